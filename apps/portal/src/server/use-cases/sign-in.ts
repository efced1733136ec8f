import { z } from '@tollgate/config';
import { verifyPassword } from '@tollgate/db/client';
import { assertSignInAllowed, recordSignInAttempt } from '../auth/sign-in-rate-limit.ts';
import { deps } from '../deps.ts';
import { parseInput, TollgateError } from '../errors.ts';

export const SignInSchema = z.object({
  email: z.string().trim().toLowerCase().min(1, 'required').max(254),
  password: z.string().min(1, 'required').max(200),
});

// Verified when the email is unknown, so response time does not reveal which emails exist.
const DUMMY_HASH = 'scrypt$131072$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export async function signIn(input: unknown, ip: string): Promise<{ userId: string; role: string }> {
  const data = parseInput(SignInSchema, input);
  await assertSignInAllowed(data.email, ip);
  const user = await deps().prisma.user.findUnique({ where: { email: data.email } });
  const ok = await verifyPassword(data.password, user?.passwordHash ?? DUMMY_HASH);
  await recordSignInAttempt(data.email, ip, ok && user !== null);
  if (!ok || !user)
    throw new TollgateError('unauthenticated', 'BAD_CREDENTIALS', 'Email or password is incorrect.');
  return { userId: user.id, role: user.role };
}
