import { addressKey } from '@tollgate/config';
import { getConfig } from '../../config.ts';
import { TollgateError } from '../errors.ts';
import type { ThrottleKey } from './throttle-store.ts';
import { throttles } from './throttles.ts';
import { waitText } from './wait-text.ts';

/**
 * Sign-up throttle per address: SIGN_UP_FREE_PER_ADDRESS sign-ups, then each further one waits,
 * twice as long as the last, up to AUTH_DELAY_MAX_SECONDS; one is forgiven per
 * SIGN_UP_FORGIVE_MINUTES of quiet. Every sign-up with well-formed input counts, accepted or not
 * (each new account costs a 128 MiB scrypt; a taken email answers the same as a free one would
 * be throttled).
 */
function signUpKey(ip: string): ThrottleKey {
  const c = getConfig();
  return {
    scope: 'sign_up_address',
    key: addressKey(ip),
    policy: {
      free: c.SIGN_UP_FREE_PER_ADDRESS,
      baseDelayMs: c.AUTH_DELAY_BASE_SECONDS * 1000,
      maxDelayMs: c.AUTH_DELAY_MAX_SECONDS * 1000,
      forgiveMs: c.SIGN_UP_FORGIVE_MINUTES * 60_000,
    },
  };
}

/** Counts a sign-up from `ip`, or refuses it (rate_limited, with how long to wait). */
export async function admitSignUp(ip: string): Promise<ThrottleKey> {
  const key = signUpKey(ip);
  const store = throttles();
  const verdict = await store.admit([key]);
  if (!verdict.allowed) {
    const retryAfterSeconds = Math.ceil(verdict.retryAfterMs / 1000);
    throw new TollgateError(
      'rate_limited',
      'SIGN_UP_RATE_LIMITED',
      `Too many sign-ups from your address. Try again in ${waitText(retryAfterSeconds)}.`,
      { retryable: true, details: { retryAfterSeconds } },
    );
  }
  await store.deleteSpent(key);
  return key;
}

/** The sign-up never ran its hash (busy): it does not count. */
export async function signUpNotCounted(key: ThrottleKey): Promise<void> {
  await throttles().refund([key]);
}
