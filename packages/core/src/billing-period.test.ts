import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { billingPeriodOf, periodContaining, quotaPeriodOf } from './billing-period.ts';

const date = fc.date({
  min: new Date('2000-01-01T00:00:00Z'),
  max: new Date('2100-01-01T00:00:00Z'),
  noInvalidDate: true,
});

describe('billing periods', () => {
  it('the period contains now, and the next period starts where this one ends', () => {
    fc.assert(
      fc.property(date, date, fc.constantFrom('day' as const, 'month' as const), (anchor, now, kind) => {
        const p = periodContaining(anchor, kind, now);
        expect(p.start.getTime()).toBeLessThanOrEqual(now.getTime());
        expect(p.end.getTime()).toBeGreaterThan(now.getTime());
        const next = periodContaining(anchor, kind, p.end);
        expect(next.start.getTime()).toBe(p.end.getTime());
        const lengthDays = (p.end.getTime() - p.start.getTime()) / 86_400_000;
        if (kind === 'day') expect(lengthDays).toBe(1);
        else {
          expect(lengthDays).toBeGreaterThanOrEqual(28);
          expect(lengthDays).toBeLessThanOrEqual(31);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('a month anchored on the 31st clamps to the last day of short months', () => {
    const anchor = new Date('2026-01-31T10:00:00Z');
    const p = periodContaining(anchor, 'month', new Date('2026-03-01T00:00:00Z'));
    expect(p.start.toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(p.end.toISOString()).toBe('2026-03-31T10:00:00.000Z');
  });

  it('Jan 31 renews on Feb 28, Feb 29 in a leap year, and then on Mar 31', () => {
    for (const [year, feb] of [
      [2026, 28],
      [2027, 28],
      [2028, 29],
      [2100, 28],
      [2000, 29],
    ] as const) {
      const anchor = new Date(Date.UTC(year, 0, 31, 10));
      const first = periodContaining(anchor, 'month', anchor);
      expect(first.end).toEqual(new Date(Date.UTC(year, 1, feb, 10)));
      expect(periodContaining(anchor, 'month', first.end).end).toEqual(new Date(Date.UTC(year, 2, 31, 10)));
    }
  });

  it('periods follow the anchor, not the stored period start; a row without an anchor uses its period start', () => {
    const anchor = new Date('2026-01-31T10:00:00Z');
    // Stripe renewed to [Feb 28, Mar 31): aligned to the stored start, the next period would wrongly begin on Mar 28
    const renewed = {
      billingAnchor: anchor,
      currentPeriodStart: new Date('2026-02-28T10:00:00Z'),
      currentPeriodEnd: new Date('2026-03-31T10:00:00Z'),
    };
    expect(quotaPeriodOf(renewed, 'month', new Date('2026-03-29T00:00:00Z')).start).toEqual(
      renewed.currentPeriodStart,
    );
    expect(billingPeriodOf(renewed, new Date('2026-04-01T00:00:00Z')).start).toEqual(
      renewed.currentPeriodEnd,
    );
    const legacy = { ...renewed, billingAnchor: null };
    expect(quotaPeriodOf(legacy, 'month', new Date('2026-03-29T00:00:00Z')).start).toEqual(
      new Date('2026-03-28T10:00:00Z'),
    );
  });
});
