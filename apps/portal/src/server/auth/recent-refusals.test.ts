import { describe, expect, it } from 'vitest';
import { RecentRefusals } from './recent-refusals.ts';

describe('RecentRefusals', () => {
  it('repeats a refusal until it ends, then forgets it', () => {
    const refusals = new RecentRefusals();
    refusals.remember('a', 1000);
    expect(refusals.refusedUntil('a', 999)).toBe(1000);
    expect(refusals.refusedUntil('a', 1000)).toBeNull();
    expect(refusals.size).toBe(0);
    expect(refusals.refusedUntil('b', 0)).toBeNull();
  });

  it('holds at most maxEntries, dropping the oldest', () => {
    const refusals = new RecentRefusals(3);
    for (const id of ['a', 'b', 'c', 'd']) refusals.remember(id, 1000);
    expect(refusals.size).toBe(3);
    expect(refusals.refusedUntil('a', 0)).toBeNull();
    expect(refusals.refusedUntil('d', 0)).toBe(1000);
  });
});
