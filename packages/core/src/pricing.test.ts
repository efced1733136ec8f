import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMoney, lineAmount, type PricedPlan, parseDecimalMinor, priceForPeriod } from './pricing.ts';

const decimal = fc
  .tuple(fc.nat({ max: 100_000 }), fc.nat({ max: 999_999_999 }))
  .map(([w, f]) => (f === 0 ? String(w) : `${w}.${String(f).padStart(9, '0')}`));

const plan = fc.record({
  priceCents: fc.nat({ max: 10_000_000 }),
  currency: fc.constantFrom('usd', 'eur'),
  quota: fc.option(fc.nat({ max: 10_000_000 }), { nil: null }),
  capMode: fc.constantFrom('hard' as const, 'soft' as const),
  overageUnitPriceDecimal: fc.option(decimal, { nil: null }),
  overageCeiling: fc.option(fc.nat({ max: 10_000_000 }), { nil: null }),
}) satisfies fc.Arbitrary<PricedPlan>;

describe('pricing', () => {
  it('total is the flat price plus overage, and overage never exceeds the ceiling', () => {
    fc.assert(
      fc.property(plan, fc.nat({ max: 50_000_000 }), (p, used) => {
        const c = priceForPeriod(p, used);
        expect(c.totalCents).toBe(c.flatCents + c.overageCents);
        expect(c.flatCents).toBe(BigInt(p.priceCents));
        if (p.capMode === 'hard' || p.quota === null || used <= p.quota) expect(c.overageUnits).toBe(0);
        if (p.overageCeiling !== null) expect(c.overageUnits).toBeLessThanOrEqual(p.overageCeiling);
        expect(c.overageCents >= 0n).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('more usage never costs less (monotone)', () => {
    fc.assert(
      fc.property(plan, fc.nat({ max: 10_000_000 }), fc.nat({ max: 10_000_000 }), (p, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(priceForPeriod(p, lo).totalCents <= priceForPeriod(p, hi).totalCents).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('a line is rounded once, half up, matching exact rational arithmetic', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10_000_000 }), decimal, (units, price) => {
        const scaled = BigInt(units) * parseDecimalMinor(price);
        const scale = 10n ** 12n;
        const expected = scaled / scale + (scaled % scale >= scale / 2n ? 1n : 0n);
        expect(lineAmount(units, price)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('worked examples', () => {
    const pro: PricedPlan = {
      priceCents: 19_900,
      currency: 'usd',
      quota: 500_000,
      capMode: 'soft',
      overageUnitPriceDecimal: '0.05',
      overageCeiling: 1_000_000,
    };
    expect(priceForPeriod(pro, 400_000).totalCents).toBe(19_900n);
    // 10,001 requests over at 0.05 cents = 500.05 cents -> 500
    expect(priceForPeriod(pro, 510_001).overageCents).toBe(500n);
    expect(priceForPeriod(pro, 510_010).overageCents).toBe(501n); // 500.5 rounds up
    expect(priceForPeriod(pro, 5_000_000).overageUnits).toBe(1_000_000);
    expect(formatMoney(19_900n, 'usd')).toBe('199.00 USD');
  });

  it('rejects malformed amounts', () => {
    expect(() => parseDecimalMinor('1e5')).toThrow();
    expect(() => parseDecimalMinor('-1')).toThrow();
    expect(() => lineAmount(-1, '1')).toThrow();
  });
});
