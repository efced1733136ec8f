import { periodContaining } from '@tollgate/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { currentPeriod } from './developer.ts';

/** The period the portal shows (usage, billing, dashboard) is core's billing period. */
describe('portal current period', () => {
  const date = fc.date({
    min: new Date('2026-01-01T00:00:00Z'),
    max: new Date('2036-01-01T00:00:00Z'),
    noInvalidDate: true,
  });

  it("property: a subscription's current period is core's anchored month containing now, however old the stored one", () => {
    fc.assert(
      fc.property(date, fc.integer({ min: 0, max: 3 * 365 * 86_400_000 }), (anchor, ageMs) => {
        const first = periodContaining(anchor, 'month', anchor);
        // a subscription without Stripe keeps the period it was created with
        const sub = { billingAnchor: anchor, currentPeriodStart: first.start, currentPeriodEnd: first.end };
        const now = new Date(anchor.getTime() + ageMs);
        const expected = periodContaining(anchor, 'month', now);
        expect(currentPeriod(sub, now)).toEqual({ from: expected.start, to: expected.end });
      }),
      { numRuns: 2000 },
    );
  });

  it('started Jan 31: renews Feb 28 (Feb 29 in a leap year), then Mar 31', () => {
    for (const [year, feb] of [
      [2026, 28],
      [2028, 29],
    ] as const) {
      const anchor = new Date(Date.UTC(year, 0, 31, 10));
      const sub = {
        billingAnchor: anchor,
        currentPeriodStart: anchor,
        currentPeriodEnd: new Date(Date.UTC(year, 1, feb, 10)),
      };
      expect(currentPeriod(sub, new Date(Date.UTC(year, 1, 10))).to.toISOString()).toBe(
        new Date(Date.UTC(year, 1, feb, 10)).toISOString(),
      );
      expect(currentPeriod(sub, new Date(Date.UTC(year, 2, 1)))).toEqual({
        from: new Date(Date.UTC(year, 1, feb, 10)),
        to: new Date(Date.UTC(year, 2, 31, 10)),
      });
    }
  });

  it('a Stripe period that is current is shown as Stripe has it (a first period up to the anchor)', () => {
    const sub = {
      billingAnchor: new Date('2026-05-10T08:30:00Z'),
      currentPeriodStart: new Date('2026-05-25T00:00:00Z'),
      currentPeriodEnd: new Date('2026-06-10T08:30:00Z'),
    };
    expect(currentPeriod(sub, new Date('2026-06-01T00:00:00Z'))).toEqual({
      from: sub.currentPeriodStart,
      to: sub.currentPeriodEnd,
    });
  });
});
