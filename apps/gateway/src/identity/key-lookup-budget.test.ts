import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyLookupBudget } from './key-lookup-budget.ts';

describe('unknown-key lookup budget (token bucket per address)', () => {
  it('over any span of time an address gets at most burst + rate × span lookups (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.nat({ max: 400 }), { minLength: 1, maxLength: 300 }),
        (perSecond, burst, gaps) => {
          const budget = new KeyLookupBudget({ perSecond, burst, maxAddresses: 10 });
          let now = 1_000_000;
          const start = now;
          let taken = 0;
          for (const gap of gaps) {
            now += gap;
            if (budget.take('198.51.100.7', now)) taken++;
          }
          expect(taken).toBeLessThanOrEqual(burst + Math.floor((perSecond * (now - start)) / 1000));
        },
      ),
    );
  });

  it('spends only on unknown keys: a token given back for a real key is there again; other addresses are unaffected', () => {
    const budget = new KeyLookupBudget({ perSecond: 1, burst: 3, maxAddresses: 10 });
    const t = 5_000;
    for (let i = 0; i < 3; i++) expect(budget.take('a', t)).toBe(true);
    expect(budget.take('a', t)).toBe(false);
    budget.giveBack('a', t);
    expect(budget.take('a', t)).toBe(true);
    expect(budget.take('a', t)).toBe(false);
    expect(budget.take('b', t)).toBe(true);
    // One token per second comes back.
    expect(budget.take('a', t + 999)).toBe(false);
    expect(budget.take('a', t + 1000)).toBe(true);
    expect(budget.retryAfterS()).toBe(1);
  });

  it('tracks at most maxAddresses buckets (least recently used out)', () => {
    const budget = new KeyLookupBudget({ perSecond: 1, burst: 1, maxAddresses: 3 });
    for (const a of ['a', 'b', 'c']) budget.take(a, 0);
    budget.take('a', 0); // a is now the most recent
    budget.take('d', 0); // evicts b
    expect(budget.size).toBe(3);
    expect(budget.take('a', 0)).toBe(false);
    expect(budget.take('b', 0)).toBe(true); // a fresh bucket
  });
});
