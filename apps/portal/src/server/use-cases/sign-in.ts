import { z } from '@tollgate/config';
import { verifyPasswordBounded } from '../auth/password-hashing.ts';
import { admitSignIn, signInNotCounted, signInSucceeded } from '../auth/sign-in-throttle.ts';
import { deps } from '../deps.ts';
import { parseInput, TollgateError } from '../errors.ts';

export const SignInSchema = z.object({
  email: z.string().trim().toLowerCase().min(1, 'required').max(254),
  password: z.string().min(1, 'required').max(200),
});

// Verified when the email is unknown, so response time does not reveal which emails exist.
const DUMMY_HASH = 'scrypt$131072$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/**
 * Checks a password. The attempt is counted by the sign-in throttle before the password is
 * verified (a refused attempt costs no hash); a wrong password stays counted, a right one or
 * an attempt that never got a verdict is taken back.
 */
export async function signIn(input: unknown, ip: string): Promise<{ userId: string; role: string }> {
  const data = parseInput(SignInSchema, input);
  const attempt = await admitSignIn(data.email, ip);
  let user: { id: string; role: string; passwordHash: string } | null;
  let ok: boolean;
  try {
    user = await deps().prisma.user.findUnique({
      where: { email: data.email },
      select: { id: true, role: true, passwordHash: true },
    });
    ok = await verifyPasswordBounded(data.password, user?.passwordHash ?? DUMMY_HASH);
  } catch (err) {
    await signInNotCounted(attempt).catch((refundErr: unknown) =>
      console.error('portal: could not take back a sign-in attempt', refundErr),
    );
    throw err;
  }
  if (!ok || !user)
    throw new TollgateError('unauthenticated', 'BAD_CREDENTIALS', 'Email or password is incorrect.');
  await signInSucceeded(attempt);
  return { userId: user.id, role: user.role };
}
