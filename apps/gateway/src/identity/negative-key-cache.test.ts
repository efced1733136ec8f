import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NegativeKeyCache } from './negative-key-cache.ts';

describe('negative key cache', () => {
  it('never holds more than its bound, answers only unexpired entries, and evicts the oldest (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.tuple(fc.nat({ max: 40 }), fc.nat({ max: 50 })), { maxLength: 300 }),
        (max, ops) => {
          const cache = new NegativeKeyCache(max, 100);
          const model = new Map<string, number>();
          let now = 0;
          for (const [k, dt] of ops) {
            now += dt;
            const key = String(k);
            const live = (model.get(key) ?? -1) > now;
            expect(cache.has(key, now)).toBe(live);
            if (!live) model.delete(key);
            if (!live) {
              cache.add(key, now);
              if (model.size >= max && !model.has(key)) model.delete(model.keys().next().value!);
              model.set(key, now + 100);
            }
            expect(cache.size).toBeLessThanOrEqual(max);
          }
        },
      ),
    );
  });

  it('an entry expires after its TTL', () => {
    const cache = new NegativeKeyCache(10, 1000);
    cache.add('h', 0);
    expect(cache.has('h', 999)).toBe(true);
    expect(cache.has('h', 1000)).toBe(false);
    expect(cache.size).toBe(0);
  });
});
