import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isUuidv7, uuidv7, uuidv7Time } from './uuidv7.ts';

describe('uuidv7', () => {
  it('encodes its timestamp and has the v7 layout', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (ms) => {
        const id = uuidv7(ms);
        expect(isUuidv7(id)).toBe(true);
        expect(uuidv7Time(id)).toBe(ms);
      }),
      { numRuns: 5000 },
    );
  });

  it('ids from later milliseconds sort after earlier ones, and 100k ids are distinct', () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => uuidv7(1_700_000_000_000 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 10; i < ids.length; i += 10) expect(ids[i]! > ids[i - 10]!).toBe(true);
  });
});
