import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TtlLru } from './key-cache.ts';

describe('key cache (TTL LRU)', () => {
  it('never holds more than its bound and evicts the least recently used', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.nat({ max: 50 }), { maxLength: 300 }),
        (max, keys) => {
          const lru = new TtlLru<number>(max);
          for (const k of keys) {
            if (lru.get(String(k)) === undefined) lru.set(String(k), k, 1000);
            expect(lru.size).toBeLessThanOrEqual(max);
          }
        },
      ),
    );
    const lru = new TtlLru<number>(2);
    lru.set('a', 1, 1000);
    lru.set('b', 2, 1000);
    lru.get('a');
    lru.set('c', 3, 1000);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')?.value).toBe(1);
    expect(lru.get('c')?.expiresAt).toBe(1000);
  });
});
