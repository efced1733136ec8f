import { z } from '@tollgate/config';
import { hashPasswordBounded } from '../auth/password-hashing.ts';
import { admitSignUp, signUpNotCounted } from '../auth/sign-up-throttle.ts';
import { deps } from '../deps.ts';
import { parseInput, TollgateError } from '../errors.ts';

export const SignUpSchema = z.object({
  name: z.string().trim().min(1, 'required').max(100),
  email: z.email('enter a valid email').trim().toLowerCase().max(254),
  password: z.string().min(10, 'at least 10 characters').max(200),
  company: z.string().trim().max(100).optional(),
});

/**
 * A new developer account and the consumer it owns. The role is always developer. Throttled
 * per address (`ip`) before anything is looked up or hashed.
 */
export async function signUp(input: unknown, ip: string): Promise<{ userId: string; consumerId: string }> {
  const data = parseInput(SignUpSchema, input);
  const throttle = await admitSignUp(ip);
  const prisma = deps().prisma;
  if (await prisma.user.findUnique({ where: { email: data.email }, select: { id: true } })) {
    throw new TollgateError(
      'conflict',
      'EMAIL_TAKEN',
      'An account with this email already exists. Sign in instead.',
    );
  }
  let passwordHash: string;
  try {
    passwordHash = await hashPasswordBounded(data.password);
  } catch (err) {
    await signUpNotCounted(throttle).catch((refundErr: unknown) =>
      console.error('portal: could not take back a sign-up attempt', refundErr),
    );
    throw err;
  }
  try {
    return await createAccount(data, passwordHash);
  } catch (err) {
    // two sign-ups with the same email at once: the unique index decides
    if ((err as { code?: string }).code === 'P2002') {
      throw new TollgateError(
        'conflict',
        'EMAIL_TAKEN',
        'An account with this email already exists. Sign in instead.',
      );
    }
    throw err;
  }
}

async function createAccount(
  data: { email: string; name: string; company?: string | undefined },
  passwordHash: string,
): Promise<{ userId: string; consumerId: string }> {
  return deps().prisma.$transaction(async (tx) => {
    const user = await tx.user.create({
      data: { email: data.email, name: data.name, passwordHash, role: 'developer' },
    });
    const consumer = await tx.consumer.create({ data: { name: data.company || `${data.name}'s workspace` } });
    await tx.consumerMember.create({ data: { consumerId: consumer.id, userId: user.id, role: 'owner' } });
    return { userId: user.id, consumerId: consumer.id };
  });
}
