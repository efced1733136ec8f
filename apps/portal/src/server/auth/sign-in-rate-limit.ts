import { getConfig } from '../../config.ts';
import { deps } from '../deps.ts';
import { TollgateError } from '../errors.ts';

/**
 * Sign-in rate limit, kept in Postgres (sign_in_attempts) so it holds across processes and
 * restarts: at most SIGN_IN_MAX_FAILURES failures per email and, separately, 4x that per IP
 * within SIGN_IN_WINDOW_MINUTES. Checked before the password is verified.
 */
export async function assertSignInAllowed(email: string, ip: string): Promise<void> {
  const { SIGN_IN_MAX_FAILURES, SIGN_IN_WINDOW_MINUTES } = getConfig();
  const since = new Date(Date.now() - SIGN_IN_WINDOW_MINUTES * 60_000);
  const prisma = deps().prisma;
  const [byEmail, byIp] = await Promise.all([
    prisma.signInAttempt.count({ where: { email, succeeded: false, at: { gte: since } } }),
    prisma.signInAttempt.count({ where: { ip, succeeded: false, at: { gte: since } } }),
  ]);
  if (byEmail >= SIGN_IN_MAX_FAILURES || byIp >= SIGN_IN_MAX_FAILURES * 4) {
    throw new TollgateError(
      'rate_limited',
      'SIGN_IN_RATE_LIMITED',
      `Too many failed sign-ins. Try again in ${SIGN_IN_WINDOW_MINUTES} minutes.`,
    );
  }
}

export async function recordSignInAttempt(email: string, ip: string, succeeded: boolean): Promise<void> {
  await deps().prisma.signInAttempt.create({ data: { email, ip, succeeded } });
}
