import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedSemaphore } from './bounded-semaphore.ts';

describe('BoundedSemaphore', () => {
  it('runs at most `concurrency` tasks at once, queues at most `queueLimit`, refuses the rest, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 20 }),
        async (concurrency, queueLimit, tasks) => {
          const semaphore = new BoundedSemaphore(concurrency, queueLimit);
          let running = 0;
          let peak = 0;
          const started: number[] = [];
          const gates: Array<() => void> = [];
          const results = Array.from({ length: tasks }, (_, i) =>
            semaphore.tryRun(async () => {
              started.push(i);
              running++;
              peak = Math.max(peak, running);
              await new Promise<void>((resolve) => gates.push(resolve));
              running--;
              return i;
            }),
          );
          // let every admitted task start or queue, then finish them one by one
          for (let done = 0; done < tasks; done++) {
            await new Promise((r) => setImmediate(r));
            gates.shift()?.();
          }
          const settled = await Promise.all(results);
          const admitted = Math.min(tasks, concurrency + queueLimit);
          expect(settled.filter((r) => r === null)).toHaveLength(tasks - admitted);
          expect(settled.slice(0, admitted).map((r) => r?.value)).toEqual([...Array(admitted).keys()]);
          expect(started).toEqual([...Array(admitted).keys()]);
          expect(peak).toBeLessThanOrEqual(concurrency);
          expect(semaphore.load).toEqual({ active: 0, waiting: 0 });
        },
      ),
    );
  });

  it('a task that throws frees its slot', async () => {
    const semaphore = new BoundedSemaphore(1, 0);
    await expect(semaphore.tryRun(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await semaphore.tryRun(async () => 'next')).toEqual({ value: 'next' });
  });
});
