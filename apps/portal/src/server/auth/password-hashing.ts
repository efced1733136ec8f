import { hashPassword, verifyPassword } from '@tollgate/db/client';
import { getConfig } from '../../config.ts';
import { TollgateError } from '../errors.ts';
import { BoundedSemaphore } from './bounded-semaphore.ts';

/**
 * Every password hash the portal computes (sign-in and sign-up) goes through one bounded
 * semaphore per process: each scrypt takes 128 MiB and ~0.3 s of a libuv thread, so a burst
 * of sign-ins must not multiply that without limit. Beyond the queue the answer is "busy,
 * try again" at once.
 */
const holder = globalThis as unknown as { __tollgatePasswordHashing?: BoundedSemaphore };

function slots(): BoundedSemaphore {
  const config = getConfig();
  holder.__tollgatePasswordHashing ??= new BoundedSemaphore(
    config.PASSWORD_HASH_CONCURRENCY,
    config.PASSWORD_HASH_QUEUE,
  );
  return holder.__tollgatePasswordHashing;
}

export const HASHING_BUSY_RETRY_AFTER_SECONDS = 2;

async function bounded<T>(task: () => Promise<T>): Promise<T> {
  const result = await slots().tryRun(task);
  if (result === null) {
    throw new TollgateError(
      'unavailable',
      'AUTH_BUSY',
      `Too many sign-ins are in progress right now. Try again in ${HASHING_BUSY_RETRY_AFTER_SECONDS} seconds.`,
      { details: { retryAfterSeconds: HASHING_BUSY_RETRY_AFTER_SECONDS } },
    );
  }
  return result.value;
}

export function hashPasswordBounded(password: string): Promise<string> {
  return bounded(() => hashPassword(password));
}

export function verifyPasswordBounded(password: string, stored: string): Promise<boolean> {
  return bounded(() => verifyPassword(password, stored));
}
