/**
 * Usage windows. Windows are `windowSeconds` long and aligned to the subscription's billing
 * anchor (its period start modulo the window), so because the window divides a day and every
 * period boundary falls at the anchor's time of day, no window straddles two billing periods.
 */
export const STRIPE_METER_EVENT_MAX_AGE_SECONDS = 35 * 86_400;
/** Margin so an event is not rejected for being 35 days old by the time it arrives. */
export const MAX_AGE_SAFETY_SECONDS = 3600;

export function windowOffsetSeconds(periodStart: Date, windowSeconds: number): number {
  const s = Math.floor(periodStart.getTime() / 1000);
  return ((s % windowSeconds) + windowSeconds) % windowSeconds;
}

/** Start of the window containing `t`. */
export function windowStartOf(t: Date, windowSeconds: number, offsetSeconds: number): Date {
  const s = Math.floor(t.getTime() / 1000);
  return new Date((Math.floor((s - offsetSeconds) / windowSeconds) * windowSeconds + offsetSeconds) * 1000);
}

/** Windows ending at or before `now - lateness` are closed; this is the end of the last one. */
export function closedThrough(
  now: Date,
  latenessSeconds: number,
  windowSeconds: number,
  offsetSeconds: number,
): Date {
  return windowStartOf(new Date(now.getTime() - latenessSeconds * 1000), windowSeconds, offsetSeconds);
}

/** Base identifier of a window; revisions (true-ups) append `:r<n>`. */
export function windowIdentifier(subscriptionId: string, windowStart: Date): string {
  return `${subscriptionId}:${windowStart.toISOString()}`;
}

export function revisionIdentifier(subscriptionId: string, windowStart: Date, revision: number): string {
  const base = windowIdentifier(subscriptionId, windowStart);
  return revision === 0 ? base : `${base}:r${revision}`;
}

/** Whether Stripe would still accept a meter event stamped at `windowStart`. */
export function tooOldForStripe(windowStart: Date, now: Date): boolean {
  return (
    now.getTime() - windowStart.getTime() >
    (STRIPE_METER_EVENT_MAX_AGE_SECONDS - MAX_AGE_SAFETY_SECONDS) * 1000
  );
}

export const earlier = (a: Date, b: Date): Date => (a.getTime() <= b.getTime() ? a : b);
export const later = (a: Date, b: Date): Date => (a.getTime() >= b.getTime() ? a : b);
