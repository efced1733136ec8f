/**
 * Exponential backoff with full jitter in the upper half: attempt 1 waits about `initialMs`,
 * each further attempt doubles, capped at `maxMs`. The jitter keeps replicas from retrying a
 * recovering ClickHouse in lockstep.
 */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const exp = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}
