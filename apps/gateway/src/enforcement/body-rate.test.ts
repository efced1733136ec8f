import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyRateGuard, type WatchedBody } from './body-rate.ts';

class Body implements WatchedBody {
  bytesIn = 0;
  bodyWatchFrom = 0;
  bodyWatchBytes = 0;
  bodyWatchPrev: WatchedBody | null = null;
  bodyWatchNext: WatchedBody | null = null;
  bodyWatched = false;
  done = false;
  paused = false;
  cut = 0;
  bodyDone(): boolean {
    return this.done;
  }
  bodyPaused(): boolean {
    return this.paused;
  }
  cutSlowBody(): void {
    this.cut++;
  }
}

describe('minimum body rate', () => {
  it('cuts a body that averages below the rate after the grace period, once; never one above it (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 500 }), fc.nat({ max: 3000 })), {
          minLength: 1,
          maxLength: 60,
        }),
        (steps) => {
          let now = 1_000;
          const guard = new BodyRateGuard({ minBytesPerS: 1000, graceMs: 1000 }, () => now);
          const body = new Body();
          guard.watch(body);
          const start = now;
          let wasCut = false;
          for (const [dt, bytes] of steps) {
            now += dt;
            body.bytesIn += bytes;
            const elapsed = now - start;
            const slow = elapsed >= 1000 && body.bytesIn < elapsed;
            guard.sweep(now);
            if (!wasCut) expect(body.cut).toBe(slow ? 1 : 0);
            wasCut ||= slow;
            if (wasCut) {
              expect(body.bodyWatched).toBe(false);
              break;
            }
          }
          expect(body.cut).toBeLessThanOrEqual(1);
          guard.close();
        },
      ),
    );
  });

  it('does not blame the client for time the body spent paused (upstream backpressure), and forgets finished bodies', () => {
    let now = 0;
    const guard = new BodyRateGuard({ minBytesPerS: 1000, graceMs: 500 }, () => now);
    const paused = new Body();
    const finished = new Body();
    const slow = new Body();
    for (const b of [paused, finished, slow]) guard.watch(b);
    expect(guard.size).toBe(3);
    paused.paused = true;
    finished.done = true;
    now = 10_000;
    guard.sweep(now);
    expect([paused.cut, finished.cut, slow.cut]).toEqual([0, 0, 1]);
    expect(guard.size).toBe(1);
    // Resumed: measured from the sweep that saw it paused.
    paused.paused = false;
    now = 10_400;
    guard.sweep(now);
    expect(paused.cut).toBe(0);
    now = 10_600;
    guard.sweep(now);
    expect(paused.cut).toBe(1);
    expect(guard.size).toBe(0);
  });

  it('keeps a consistent list under any order of watch and unwatch, and runs its timer only while something is watched', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 9 })), { maxLength: 100 }), (ops) => {
        const guard = new BodyRateGuard({ minBytesPerS: 1, graceMs: 1000 });
        const bodies = Array.from({ length: 10 }, () => new Body());
        const model = new Set<Body>();
        for (const [add, i] of ops) {
          const b = bodies[i]!;
          if (add) {
            guard.watch(b);
            model.add(b);
          } else {
            guard.unwatch(b);
            model.delete(b);
          }
          expect(guard.size).toBe(model.size);
          expect((guard as unknown as { timer: unknown }).timer !== null).toBe(model.size > 0);
        }
        guard.close();
        expect(guard.size).toBe(0);
        for (const b of bodies) expect(b.bodyWatched).toBe(false);
      }),
    );
  });

  it('0 disables the check', () => {
    const guard = new BodyRateGuard({ minBytesPerS: 0, graceMs: 1 });
    const b = new Body();
    guard.watch(b);
    expect(guard.size).toBe(0);
  });
});
