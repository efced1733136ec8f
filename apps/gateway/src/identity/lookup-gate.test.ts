import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LookupGate } from './lookup-gate.ts';

function deferredLookups() {
  const pending: { hash: string; resolve(v: string): void; reject(e: Error): void }[] = [];
  let running = 0;
  let peak = 0;
  const run = (hash: string) =>
    new Promise<string>((resolve, reject) => {
      running++;
      peak = Math.max(peak, running);
      pending.push({
        hash,
        resolve: (v) => {
          running--;
          resolve(v);
        },
        reject: (e) => {
          running--;
          reject(e);
        },
      });
    });
  return { run, pending, peak: () => peak };
}

describe('key lookup gate (bounded concurrency, bounded queue)', () => {
  it('never runs more than `concurrency` lookups, never queues more than `queue` per lane, and runs every accepted one (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()), { maxLength: 80 }),
        async (concurrency, queue, ops) => {
          const l = deferredLookups();
          const gate = new LookupGate(l.run, { concurrency, queue });
          const accepted: Promise<string>[] = [];
          let submitted = 0;
          for (const [submit, refresh, fail] of ops) {
            if (submit) {
              const lane = gate.waiting(refresh);
              const running = gate.inflight;
              const p = gate.submit(`h${submitted++}`, refresh);
              // Refused exactly when every slot runs and the lane is full.
              expect(p === null).toBe(running >= concurrency && lane >= queue);
              if (p !== null) accepted.push(p.catch((e: Error) => e.message));
            } else if (l.pending.length > 0) {
              const next = l.pending.shift()!;
              if (fail) next.reject(new Error('down'));
              else next.resolve(next.hash);
              await Promise.resolve();
              await Promise.resolve();
            }
            expect(gate.inflight).toBeLessThanOrEqual(concurrency);
            expect(gate.waiting(true)).toBeLessThanOrEqual(queue);
            expect(gate.waiting(false)).toBeLessThanOrEqual(queue);
          }
          // Drain: every accepted lookup eventually runs and settles.
          while (l.pending.length > 0) {
            l.pending.shift()!.resolve('late');
            await new Promise((r) => setImmediate(r));
          }
          await Promise.all(accepted);
          expect(l.peak()).toBeLessThanOrEqual(concurrency);
          expect(gate.peak).toBeLessThanOrEqual(concurrency);
          expect(gate.inflight + gate.queued).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refreshes of known keys go before unknown keys', async () => {
    const l = deferredLookups();
    const gate = new LookupGate(l.run, { concurrency: 1, queue: 4 });
    const order: string[] = [];
    const track = (p: Promise<string> | null) => p!.then((v) => order.push(v));
    const first = track(gate.submit('first', false));
    const unknown = track(gate.submit('unknown', false));
    const refresh = track(gate.submit('refresh', true));
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      const next = l.pending.shift()!;
      next.resolve(next.hash);
    }
    await Promise.all([first, unknown, refresh]);
    expect(order).toEqual(['first', 'refresh', 'unknown']);
  });
});
