import type { Plan } from './plan.ts';

/**
 * Pricing math in exact integer arithmetic. Decimal unit prices are scaled to 10^-12 of a
 * minor unit (Stripe's `unit_amount_decimal` precision) and every line is rounded half-up to a
 * whole minor unit once, the way Stripe rounds an invoice line.
 */
const SCALE_DIGITS = 12;
const SCALE = 10n ** BigInt(SCALE_DIGITS);

export function parseDecimalMinor(decimal: string): bigint {
  const match = /^(\d+)(?:\.(\d{1,12}))?$/.exec(decimal);
  if (match === null) throw new RangeError(`not a decimal amount: ${decimal}`);
  const whole = BigInt(match[1]!);
  const frac = BigInt((match[2] ?? '').padEnd(SCALE_DIGITS, '0'));
  return whole * SCALE + frac;
}

function roundHalfUp(scaled: bigint): bigint {
  return (scaled + SCALE / 2n) / SCALE;
}

/** Amount in minor units for `units` at a decimal per-unit price, rounded once. */
export function lineAmount(units: number | bigint, unitPriceDecimal: string): bigint {
  const n = BigInt(units);
  if (n < 0n) throw new RangeError('units must be non-negative');
  return roundHalfUp(n * parseDecimalMinor(unitPriceDecimal));
}

export interface Charge {
  currency: string;
  flatCents: bigint;
  includedUnits: number | null;
  usedUnits: number;
  overageUnits: number;
  overageCents: bigint;
  totalCents: bigint;
}

export type PricedPlan = Pick<
  Plan,
  'priceCents' | 'currency' | 'quota' | 'capMode' | 'overageUnitPriceDecimal' | 'overageCeiling'
>;

/**
 * What one full period costs: the flat price plus overage past the quota. Under a hard cap
 * nothing is billed past the quota (the gateway refused it); under a soft cap overage is billed
 * up to the ceiling, which the gateway also enforces.
 */
export function priceForPeriod(plan: PricedPlan, usedUnits: number): Charge {
  if (!Number.isSafeInteger(usedUnits) || usedUnits < 0)
    throw new RangeError('usedUnits must be a non-negative integer');
  const flatCents = BigInt(plan.priceCents);
  let overageUnits = 0;
  if (plan.quota !== null && plan.capMode === 'soft' && usedUnits > plan.quota) {
    overageUnits = usedUnits - plan.quota;
    if (plan.overageCeiling !== null) overageUnits = Math.min(overageUnits, plan.overageCeiling);
  }
  const overageCents =
    overageUnits > 0 && plan.overageUnitPriceDecimal !== null
      ? lineAmount(overageUnits, plan.overageUnitPriceDecimal)
      : 0n;
  return {
    currency: plan.currency,
    flatCents,
    includedUnits: plan.quota,
    usedUnits,
    overageUnits,
    overageCents,
    totalCents: flatCents + overageCents,
  };
}

export function formatMoney(cents: bigint | number, currency: string): string {
  const c = BigInt(cents);
  const sign = c < 0n ? '-' : '';
  const abs = c < 0n ? -c : c;
  return `${sign}${(abs / 100n).toString()}.${(abs % 100n).toString().padStart(2, '0')} ${currency.toUpperCase()}`;
}
