/**
 * The arithmetic of the portal's sign-in and sign-up throttles, pure (the state lives in
 * Postgres, see throttle-store.ts). An attempt is never refused for good: after `free` counted
 * attempts each further one must wait, twice as long as the one before, up to `maxDelayMs`.
 * Quiet time forgives one counted attempt per `forgiveMs`. Deterministic on purpose (no
 * jitter): this is a penalty the client is told about, not a retry schedule.
 */
export interface ThrottlePolicy {
  /** Attempts counted before the first wait. */
  free: number;
  /** The first wait, after the `free`-th attempt; it doubles with each further attempt. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** One counted attempt is forgiven per this much time without attempts. */
  forgiveMs: number;
}

/** Times are epoch milliseconds. */
export interface ThrottleState {
  attempts: number;
  lastAttemptAt: number;
  blockedUntil: number;
}

export const NO_ATTEMPTS: ThrottleState = { attempts: 0, lastAttemptAt: 0, blockedUntil: 0 };

export type Admission = { allowed: true; next: ThrottleState } | { allowed: false; retryAfterMs: number };

/** The wait after the `attempts`-th counted attempt. */
export function delayAfter(attempts: number, policy: ThrottlePolicy): number {
  if (attempts < policy.free) return 0;
  const doublings = Math.min(attempts - policy.free, 52);
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** doublings);
}

/** Attempts still counted at `now`, after forgiveness for the quiet time since the last one. */
export function countedAttempts(state: ThrottleState, now: number, policy: ThrottlePolicy): number {
  const quiet = Math.max(0, now - state.lastAttemptAt);
  return Math.max(0, state.attempts - Math.floor(quiet / policy.forgiveMs));
}

/** Admits one attempt at `now` (and counts it), or says how long until one is admitted. */
export function admit(state: ThrottleState, now: number, policy: ThrottlePolicy): Admission {
  if (now < state.blockedUntil) return { allowed: false, retryAfterMs: state.blockedUntil - now };
  const attempts = countedAttempts(state, now, policy) + 1;
  return {
    allowed: true,
    next: { attempts, lastAttemptAt: now, blockedUntil: now + delayAfter(attempts, policy) },
  };
}

/**
 * Takes back one admitted attempt that did not count (the password was right and the scope
 * only limits failures, or the attempt never ran): the wait shrinks to what one attempt fewer
 * would have caused.
 */
export function refund(state: ThrottleState, policy: ThrottlePolicy): ThrottleState {
  const attempts = Math.max(0, state.attempts - 1);
  const blockedUntil = Math.min(state.blockedUntil, state.lastAttemptAt + delayAfter(attempts, policy));
  return { attempts, lastAttemptAt: state.lastAttemptAt, blockedUntil };
}
