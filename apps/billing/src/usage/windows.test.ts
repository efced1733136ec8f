import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  closedThrough,
  revisionIdentifier,
  tooOldForStripe,
  windowIdentifier,
  windowOffsetSeconds,
  windowStartOf,
} from './windows.ts';

const HOUR = 3600;

describe('usage windows', () => {
  it('windows aligned to the billing anchor never straddle a period boundary', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_600_000_000, max: 2_000_000_000 }),
        fc.constantFrom(60, 300, 900, 3600, 86_400),
        fc.integer({ min: 1, max: 62 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (anchor, w, days, t) => {
          const start = new Date(anchor * 1000);
          const off = windowOffsetSeconds(start, w);
          // a period boundary falls at the anchor's time of day, days later
          const boundary = new Date((anchor + days * 86_400) * 1000);
          expect(windowStartOf(boundary, w, off).getTime()).toBe(boundary.getTime());
          const at = new Date((anchor + t) * 1000);
          const ws = windowStartOf(at, w, off);
          expect(ws.getTime()).toBeLessThanOrEqual(at.getTime());
          expect(at.getTime() - ws.getTime()).toBeLessThan(w * 1000);
        },
      ),
    );
  });

  it('a window closes only after the lateness allowance', () => {
    const periodStart = new Date('2026-11-01T00:00:30Z');
    const off = windowOffsetSeconds(periodStart, HOUR);
    expect(closedThrough(new Date('2026-11-21T10:10:29Z'), 600, HOUR, off).toISOString()).toBe(
      '2026-11-21T09:00:30.000Z',
    );
    expect(closedThrough(new Date('2026-11-21T10:10:30Z'), 600, HOUR, off).toISOString()).toBe(
      '2026-11-21T10:00:30.000Z',
    );
  });

  it('identifiers are deterministic and revisions are distinct', () => {
    const ws = new Date('2026-11-21T09:00:00Z');
    expect(windowIdentifier('sub-1', ws)).toBe('sub-1:2026-11-21T09:00:00.000Z');
    expect(revisionIdentifier('sub-1', ws, 0)).toBe(windowIdentifier('sub-1', ws));
    expect(revisionIdentifier('sub-1', ws, 2)).toBe('sub-1:2026-11-21T09:00:00.000Z:r2');
  });

  it('Stripe’s 35-day limit is applied with a safety margin', () => {
    const now = new Date('2026-11-21T00:00:00Z');
    expect(tooOldForStripe(new Date(now.getTime() - 34 * 86_400_000), now)).toBe(false);
    expect(tooOldForStripe(new Date(now.getTime() - 35 * 86_400_000 + 1_800_000), now)).toBe(true);
  });
});
