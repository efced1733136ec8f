import { describe, expect, it } from 'vitest';
import { oldestKeptPartition } from './drop-expired-partitions.ts';

describe('retention window', () => {
  it('keeps the current month and the N whole months before it', () => {
    expect(oldestKeptPartition(new Date('2026-11-21T10:00:00Z'), 13)).toBe(202510);
    expect(oldestKeptPartition(new Date('2026-01-01T00:00:00Z'), 1)).toBe(202512);
    expect(oldestKeptPartition(new Date('2026-03-31T23:59:59Z'), 2)).toBe(202601);
  });
});
