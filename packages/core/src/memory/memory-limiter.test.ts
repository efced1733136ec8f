import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryLimiter } from './memory-limiter.ts';

describe('memory limiter (the reference semantics the Redis limiter is tested against)', () => {
  it('never admits more than the quota, and a refused request consumes nothing', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 200 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 300 }),
        (limit, costs) => {
          const l = new MemoryLimiter();
          let admitted = 0;
          for (const cost of costs) {
            const d = l.checkSync({
              subject: 's',
              cost,
              now: 0,
              quota: { limit, periodStart: 0, periodEnd: 1000 },
              rate: null,
            });
            if (d.allowed) admitted += cost;
            expect(d.quotaRemaining).toBe(limit - admitted);
          }
          expect(admitted).toBeLessThanOrEqual(limit);
        },
      ),
    );
  });

  it('a request refused by the rate consumes no quota', () => {
    const l = new MemoryLimiter();
    const req = (now: number) => ({
      subject: 's',
      cost: 1,
      now,
      quota: { limit: 100, periodStart: 0, periodEnd: 10_000 },
      rate: { perSecond: 1, burst: 2 },
    });
    expect(l.checkSync(req(0)).allowed).toBe(true);
    expect(l.checkSync(req(0)).allowed).toBe(true);
    const refused = l.checkSync(req(0));
    expect(refused).toMatchObject({ allowed: false, limitedBy: 'rate', quotaRemaining: 98 });
    expect(refused.retryAfterMs).toBe(1000);
    expect(l.checkSync(req(1000))).toMatchObject({ allowed: true, quotaRemaining: 97 });
  });
});
