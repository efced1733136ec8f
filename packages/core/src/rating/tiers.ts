import { lineAmount } from '../pricing.ts';

/**
 * Tiered usage pricing exactly as Stripe rates a tiered Price: `graduated` bills each unit at
 * the tier it falls in (one line per tier touched), `volume` bills every unit at the tier the
 * total falls in. Each line is rounded half-up to a whole minor unit once, then lines are summed.
 */
export type TiersMode = 'graduated' | 'volume';

export interface PriceTier {
  /** Inclusive upper bound of the tier in units; null is Stripe's `up_to: 'inf'`. */
  upTo: number | null;
  /** Per-unit price in minor units, as Stripe's `unit_amount_decimal`. */
  unitAmountDecimal: string;
  /** A flat amount added when the tier is reached (Stripe's `flat_amount`), in minor units. */
  flatAmountCents?: number;
}

export interface TierLine {
  tierIndex: number;
  /** First and last unit (1-based, inclusive) rated in this line. */
  fromUnit: number;
  toUnit: number;
  units: number;
  unitAmountDecimal: string;
  amountCents: bigint;
}

export interface TieredCharge {
  lines: TierLine[];
  totalCents: bigint;
}

/** Tiers must ascend strictly and end with an unbounded tier, as Stripe requires. */
export function validateTiers(tiers: readonly PriceTier[]): void {
  if (tiers.length === 0) throw new RangeError('at least one tier is required');
  let previous = 0;
  tiers.forEach((tier, index) => {
    const last = index === tiers.length - 1;
    if (last !== (tier.upTo === null)) throw new RangeError('only the last tier is unbounded');
    if (tier.upTo !== null) {
      if (!Number.isSafeInteger(tier.upTo) || tier.upTo <= previous)
        throw new RangeError('tier bounds must ascend strictly from 1');
      previous = tier.upTo;
    }
    if (
      tier.flatAmountCents !== undefined &&
      (!Number.isSafeInteger(tier.flatAmountCents) || tier.flatAmountCents < 0)
    )
      throw new RangeError('flat amounts are non-negative integers');
  });
}

export function rateTiers(units: number, tiers: readonly PriceTier[], mode: TiersMode): TieredCharge {
  if (!Number.isSafeInteger(units) || units < 0) throw new RangeError('units must be a non-negative integer');
  validateTiers(tiers);
  const lines: TierLine[] = [];
  if (mode === 'volume') {
    const index = tiers.findIndex((t) => t.upTo === null || units <= t.upTo);
    const tier = tiers[index]!;
    const amount =
      lineAmount(units, tier.unitAmountDecimal) + BigInt(units > 0 ? (tier.flatAmountCents ?? 0) : 0);
    if (units > 0)
      lines.push({
        tierIndex: index,
        fromUnit: 1,
        toUnit: units,
        units,
        unitAmountDecimal: tier.unitAmountDecimal,
        amountCents: amount,
      });
    return { lines, totalCents: amount };
  }
  let lower = 0;
  let total = 0n;
  for (const [index, tier] of tiers.entries()) {
    if (units <= lower) break;
    const upper = tier.upTo === null ? units : Math.min(units, tier.upTo);
    const inTier = upper - lower;
    const amount = lineAmount(inTier, tier.unitAmountDecimal) + BigInt(tier.flatAmountCents ?? 0);
    lines.push({
      tierIndex: index,
      fromUnit: lower + 1,
      toUnit: upper,
      units: inTier,
      unitAmountDecimal: tier.unitAmountDecimal,
      amountCents: amount,
    });
    total += amount;
    lower = upper;
  }
  return { lines, totalCents: total };
}
