import { describe, expect, it } from 'vitest';
import { createInsertCoalescer } from './insert-coalescer.ts';

describe('insert-coalescer', () => {
  it('inserts the rows of concurrently running batches together', async () => {
    const inserts: number[][] = [];
    const c = createInsertCoalescer<number>(async (rows) => {
      inserts.push(rows);
    }, 100);
    const releases = [c.enter(), c.enter(), c.enter()];
    const a = c.submit([1, 2]);
    const b = c.submit([3]);
    expect(inserts).toEqual([]);
    const d = c.submit([4]);
    await Promise.all([a, b, d]);
    expect(inserts).toEqual([[1, 2, 3, 4]]);
    for (const r of releases) r();
  });

  it('does not wait for a batch that ended without submitting', async () => {
    const inserts: number[][] = [];
    const c = createInsertCoalescer<number>(async (rows) => {
      inserts.push(rows);
    }, 100);
    const r1 = c.enter();
    const r2 = c.enter();
    const a = c.submit([1]);
    r2();
    await a;
    expect(inserts).toEqual([[1]]);
    r1();
  });

  it('flushes at maxRows and gives every submitter the insert error', async () => {
    const c = createInsertCoalescer<number>(async () => {
      throw new Error('down');
    }, 2);
    const r1 = c.enter();
    const r2 = c.enter();
    await expect(c.submit([1, 2])).rejects.toThrow('down');
    r1();
    r2();
  });
});
