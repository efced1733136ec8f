import { addressKey } from '@tollgate/config';
import { getConfig } from '../../config.ts';
import { TollgateError } from '../errors.ts';
import type { ThrottlePolicy } from './throttle-policy.ts';
import type { ThrottleKey } from './throttle-store.ts';
import { throttles } from './throttles.ts';
import { waitText } from './wait-text.ts';

/**
 * Sign-in throttle: failures are counted per (address, account) and per address, never per
 * account alone, so nobody can lock an account they do not sign in from: a correct password
 * from another address always gets through. After SIGN_IN_FREE_FAILURES failures from one
 * address on one account (SIGN_IN_ADDRESS_FREE_FAILURES over all accounts) each further attempt
 * waits, twice as long as the last, up to AUTH_DELAY_MAX_SECONDS. Every attempt is counted
 * before the password is checked (so parallel guesses cannot share one allowance) and taken
 * back when it succeeds or never ran.
 */
function policies(): { account: ThrottlePolicy; address: ThrottlePolicy } {
  const c = getConfig();
  const shape = {
    baseDelayMs: c.AUTH_DELAY_BASE_SECONDS * 1000,
    maxDelayMs: c.AUTH_DELAY_MAX_SECONDS * 1000,
    forgiveMs: c.SIGN_IN_FORGIVE_MINUTES * 60_000,
  };
  return {
    account: { ...shape, free: c.SIGN_IN_FREE_FAILURES },
    address: { ...shape, free: c.SIGN_IN_ADDRESS_FREE_FAILURES },
  };
}

export interface SignInAttempt {
  account: ThrottleKey;
  address: ThrottleKey;
}

/** Counts a sign-in attempt, or refuses it (rate_limited, with how long to wait). */
export async function admitSignIn(email: string, ip: string): Promise<SignInAttempt> {
  const p = policies();
  const addr = addressKey(ip);
  const attempt: SignInAttempt = {
    account: { scope: 'sign_in_account', key: `${addr} ${email}`, policy: p.account },
    address: { scope: 'sign_in_address', key: addr, policy: p.address },
  };
  const verdict = await throttles().admit([attempt.account, attempt.address]);
  if (!verdict.allowed) {
    const retryAfterSeconds = Math.ceil(verdict.retryAfterMs / 1000);
    const who =
      verdict.scope === 'sign_in_account' ? 'for this account from your address' : 'from your address';
    throw new TollgateError(
      'rate_limited',
      'SIGN_IN_RATE_LIMITED',
      `Too many failed sign-ins ${who}. Try again in ${waitText(retryAfterSeconds)}.`,
      { retryable: true, details: { retryAfterSeconds } },
    );
  }
  return attempt;
}

/** The password was right: the account's throttle at this address is cleared, the address's gets its attempt back. */
export async function signInSucceeded(attempt: SignInAttempt): Promise<void> {
  const store = throttles();
  await store.clear(attempt.account);
  await store.refund([attempt.address]);
  await store.deleteSpent(attempt.account);
  await store.deleteSpent(attempt.address);
}

/** The attempt never reached a verdict (busy, database error): it does not count. */
export async function signInNotCounted(attempt: SignInAttempt): Promise<void> {
  await throttles().refund([attempt.account, attempt.address]);
}
