import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { periodContaining } from './billing-period.ts';

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
});
