/**
 * Proration the way Stripe computes it for `proration_behavior: 'create_prorations'`: time is
 * measured in whole seconds, the unused share of a flat price is
 * `amount * (periodEnd - at) / (periodEnd - periodStart)` rounded half-up once, and the used
 * share is the rest, so the two shares always add up to the full amount.
 */
export interface ProrationPeriod {
  start: Date;
  end: Date;
}

export interface ProrationSplit {
  /** Seconds from period start to the change, and in the whole period. */
  usedSeconds: number;
  periodSeconds: number;
  usedCents: bigint;
  unusedCents: bigint;
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

export function prorationSplit(amountCents: bigint, period: ProrationPeriod, at: Date): ProrationSplit {
  if (amountCents < 0n) throw new RangeError('amount must be non-negative');
  const start = seconds(period.start);
  const end = seconds(period.end);
  if (end <= start) throw new RangeError('period must have a positive length');
  const t = Math.min(Math.max(seconds(at), start), end);
  const periodSeconds = end - start;
  const remaining = BigInt(end - t);
  const whole = BigInt(periodSeconds);
  // half-up division of amount * remaining / whole, in integers
  const unusedCents = (amountCents * remaining * 2n + whole) / (2n * whole);
  return { usedSeconds: t - start, periodSeconds, usedCents: amountCents - unusedCents, unusedCents };
}
