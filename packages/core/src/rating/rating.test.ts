import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lineAmount, type PricedPlan, priceForPeriod } from '../pricing.ts';
import { overageTiers } from './overage-tiers.ts';
import { prorationSplit } from './proration.ts';
import { previewPlanChange, ratePeriod } from './rate-period.ts';
import { type PriceTier, rateTiers } from './tiers.ts';

const decimal = fc
  .tuple(fc.nat({ max: 10_000 }), fc.nat({ max: 999_999 }))
  .map(([w, f]) => (f === 0 ? String(w) : `${w}.${String(f).padStart(6, '0')}`));

/** Ascending bounds then an unbounded last tier. */
const tiers: fc.Arbitrary<PriceTier[]> = fc
  .tuple(
    fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { maxLength: 5 }),
    fc.array(fc.tuple(decimal, fc.option(fc.nat({ max: 10_000 }), { nil: undefined })), {
      minLength: 6,
      maxLength: 6,
    }),
  )
  .map(([bounds, prices]) => {
    const sorted = [...bounds].sort((a, b) => a - b);
    return [...sorted, null].map((upTo, i) => {
      const [unitAmountDecimal, flat] = prices[i]!;
      const tier: PriceTier = { upTo, unitAmountDecimal };
      if (flat !== undefined) tier.flatAmountCents = flat;
      return tier;
    });
  });

const plan = fc
  .record({
    priceCents: fc.nat({ max: 10_000_000 }),
    currency: fc.constantFrom('usd', 'eur'),
    quota: fc.option(fc.nat({ max: 10_000_000 }), { nil: null }),
    capMode: fc.constantFrom('hard' as const, 'soft' as const),
    overageUnitPriceDecimal: fc.option(decimal, { nil: null }),
    overageCeiling: fc.option(fc.nat({ max: 10_000_000 }), { nil: null }),
  })
  .map((p) => p satisfies PricedPlan);

const units = fc.nat({ max: 30_000_000 });

const period = fc
  .tuple(fc.integer({ min: 1_600_000_000, max: 2_000_000_000 }), fc.integer({ min: 1, max: 40 * 86_400 }))
  .map(([start, length]) => ({ start: new Date(start * 1000), end: new Date((start + length) * 1000) }));

describe('rating engine: tiers', () => {
  it('more usage never costs less under graduated tiers (monotone)', () => {
    fc.assert(
      fc.property(tiers, units, units, fc.constantFrom('graduated' as const), (t, a, b, mode) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(rateTiers(lo, t, mode).totalCents <= rateTiers(hi, t, mode).totalCents).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('graduated lines cover every unit exactly once and sum to the total', () => {
    fc.assert(
      fc.property(tiers, units, (t, u) => {
        const charge = rateTiers(u, t, 'graduated');
        expect(charge.lines.reduce((s, l) => s + l.units, 0)).toBe(u);
        expect(charge.lines.reduce((s, l) => s + l.amountCents, 0n)).toBe(charge.totalCents);
        let next = 1;
        for (const line of charge.lines) {
          expect(line.fromUnit).toBe(next);
          const tier = t[line.tierIndex]!;
          if (tier.upTo !== null) expect(line.toUnit).toBeLessThanOrEqual(tier.upTo);
          expect(line.amountCents).toBe(
            lineAmount(line.units, tier.unitAmountDecimal) + BigInt(tier.flatAmountCents ?? 0),
          );
          next = line.toUnit + 1;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('volume bills every unit at the single tier the total falls in', () => {
    fc.assert(
      fc.property(tiers, fc.integer({ min: 1, max: 30_000_000 }), (t, u) => {
        const charge = rateTiers(u, t, 'volume');
        expect(charge.lines).toHaveLength(1);
        const tier = t[charge.lines[0]!.tierIndex]!;
        const previous = t[charge.lines[0]!.tierIndex - 1];
        if (tier.upTo !== null) expect(u).toBeLessThanOrEqual(tier.upTo);
        if (previous?.upTo != null) expect(u).toBeGreaterThan(previous.upTo);
        expect(charge.totalCents).toBe(
          lineAmount(u, tier.unitAmountDecimal) + BigInt(tier.flatAmountCents ?? 0),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('a single flat-rate tier equals units times price', () => {
    fc.assert(
      fc.property(decimal, units, (price, u) => {
        const t: PriceTier[] = [{ upTo: null, unitAmountDecimal: price }];
        expect(rateTiers(u, t, 'graduated').totalCents).toBe(lineAmount(u, price));
        expect(rateTiers(u, t, 'volume').totalCents).toBe(lineAmount(u, price));
      }),
    );
  });
});

describe('rating engine: flat plus overage', () => {
  it('the graduated metered price Stripe gets rates exactly as priceForPeriod', () => {
    fc.assert(
      fc.property(plan, units, (p, u) => {
        const rated = ratePeriod(p, u);
        const expected = priceForPeriod(p, u);
        expect(rated.totalCents).toBe(expected.totalCents);
        expect(rated.billedOverageUnits).toBe(
          p.capMode === 'soft' && p.overageUnitPriceDecimal !== null ? expected.overageUnits : 0,
        );
      }),
      { numRuns: 3000 },
    );
  });

  it('caps are respected: nothing past the ceiling and nothing at all under a hard cap', () => {
    fc.assert(
      fc.property(plan, units, (p, u) => {
        const rated = ratePeriod(p, u);
        if (p.capMode === 'hard' || p.quota === null) {
          expect(rated.totalCents).toBe(BigInt(p.priceCents));
          expect(overageTiers(p)).toBeNull();
        }
        if (p.overageCeiling !== null) expect(rated.billedOverageUnits).toBeLessThanOrEqual(p.overageCeiling);
        if (
          p.capMode === 'soft' &&
          p.quota !== null &&
          p.overageCeiling !== null &&
          p.overageUnitPriceDecimal
        ) {
          const atCeiling = ratePeriod(p, p.quota + p.overageCeiling).totalCents;
          expect(ratePeriod(p, p.quota + p.overageCeiling + u).totalCents).toBe(atCeiling);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('usage within the quota costs exactly the flat price', () => {
    fc.assert(
      fc.property(plan, fc.double({ min: 0, max: 1, noNaN: true }), (p, f) => {
        const u = p.quota === null ? 0 : Math.floor(p.quota * f);
        expect(ratePeriod(p, u).totalCents).toBe(BigInt(p.priceCents));
      }),
    );
  });
});

describe('rating engine: proration', () => {
  it('a change at the period start prorates the full price; at the end, nothing', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 9n }), period, (amount, pr) => {
        expect(prorationSplit(amount, pr, pr.start).unusedCents).toBe(amount);
        expect(prorationSplit(amount, pr, pr.end).unusedCents).toBe(0n);
      }),
    );
  });

  it('a change at t splits the price exactly into used and unused time', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 9n }),
        period,
        fc.double({ min: 0, max: 1, noNaN: true }),
        (amount, pr, f) => {
          const at = new Date(pr.start.getTime() + Math.floor((pr.end.getTime() - pr.start.getTime()) * f));
          const s = prorationSplit(amount, pr, at);
          expect(s.usedCents + s.unusedCents).toBe(amount);
          expect(s.unusedCents >= 0n && s.usedCents >= 0n).toBe(true);
          // within half a cent of the exact time share
          const exact = (Number(amount) * (s.periodSeconds - s.usedSeconds)) / s.periodSeconds;
          expect(Math.abs(Number(s.unusedCents) - exact)).toBeLessThanOrEqual(0.5 + 1e-6);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a later change never leaves more unused credit (monotone in time)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 9n }), period, fc.nat(), fc.nat(), (amount, pr, a, b) => {
        const len = pr.end.getTime() - pr.start.getTime();
        const [lo, hi] = [a % (len + 1), b % (len + 1)].sort((x, y) => x - y) as [number, number];
        const early = prorationSplit(amount, pr, new Date(pr.start.getTime() + lo)).unusedCents;
        const late = prorationSplit(amount, pr, new Date(pr.start.getTime() + hi)).unusedCents;
        expect(late <= early).toBe(true);
      }),
    );
  });

  it('a plan change nets the new remaining charge against the old remaining credit', () => {
    fc.assert(
      fc.property(plan, plan, period, fc.double({ min: 0, max: 1, noNaN: true }), units, (a, b, pr, f, u) => {
        const at = new Date(pr.start.getTime() + Math.floor((pr.end.getTime() - pr.start.getTime()) * f));
        const preview = previewPlanChange(a, b, pr, at, u);
        const credit = prorationSplit(BigInt(a.priceCents), pr, at).unusedCents;
        const charge = prorationSplit(BigInt(b.priceCents), pr, at).unusedCents;
        expect(preview.prorationCents).toBe(charge - credit);
        expect(preview.prorationLines.reduce((s, l) => s + l.amountCents, 0n)).toBe(preview.prorationCents);
        // the same plan at any time prorates to zero
        expect(previewPlanChange(a, a, pr, at, u).prorationCents).toBe(0n);
      }),
      { numRuns: 2000 },
    );
  });
});
