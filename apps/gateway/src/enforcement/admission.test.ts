import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Admission, type AdmissionHold } from './admission.ts';

function hold(): AdmissionHold {
  return { heldAddress: null, heldConsumer: null, heldTarget: null, heldTargetConsumer: null };
}

describe('admission: concurrency per address and per consumer', () => {
  it('never admits more than the bound at once, always admits below it, and releasing everything leaves nothing held', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.boolean(), fc.constantFrom('a', 'b', 'c'), fc.boolean()), { maxLength: 200 }),
        (max, ops) => {
          const adm = new Admission({ maxPerAddress: max, maxPerConsumer: max, upstreamShare: 1 });
          const open: { h: AdmissionHold; key: string; byAddress: boolean }[] = [];
          const model = new Map<string, number>();
          for (const [enter, key, byAddress] of ops) {
            const modelKey = `${byAddress}:${key}`;
            if (enter || open.length === 0) {
              const h = hold();
              const before = model.get(modelKey) ?? 0;
              const ok = byAddress ? adm.enterAddress(h, key) : adm.enterConsumer(h, key);
              expect(ok).toBe(before < max);
              if (ok) {
                model.set(modelKey, before + 1);
                open.push({ h, key, byAddress });
              }
            } else {
              const o = open.shift()!;
              adm.release(o.h);
              adm.release(o.h); // idempotent
              model.set(`${o.byAddress}:${o.key}`, model.get(`${o.byAddress}:${o.key}`)! - 1);
            }
          }
          const count = (byAddress: boolean) =>
            [...model].filter(([k]) => k.startsWith(`${byAddress}:`)).reduce((sum, [, n]) => sum + n, 0);
          expect([adm.totals.addresses, adm.totals.consumers]).toEqual([count(true), count(false)]);
          for (const o of open) adm.release(o.h);
          expect(adm.totals).toEqual({
            addresses: 0,
            consumers: 0,
            anonymousOnTargets: 0,
            consumersOnTargets: 0,
          });
        },
      ),
    );
  });

  it('0 disables a bound', () => {
    const adm = new Admission({ maxPerAddress: 0, maxPerConsumer: 0, upstreamShare: 1 });
    for (let i = 0; i < 1_000; i++) {
      expect(adm.enterAddress(hold(), '10.0.0.1')).toBe(true);
      expect(adm.enterConsumer(hold(), 'c')).toBe(true);
    }
  });
});

describe('admission: fair share of an upstream pool', () => {
  it('a holder below its share is always admitted; at or above it only while the target keeps S connections of room (property, against a model)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.array(fc.tuple(fc.boolean(), fc.constantFrom<string | null>('c1', 'c2', 'c3', null)), {
          maxLength: 300,
        }),
        (connections, share, ops) => {
          const adm = new Admission({ maxPerAddress: 0, maxPerConsumer: 0, upstreamShare: share });
          const target = { connections };
          const S = Math.max(1, Math.floor(connections * share));
          const open: { h: AdmissionHold; holder: string | null }[] = [];
          const held = new Map<string | null, number>();
          let total = 0;
          for (const [enter, holder] of ops) {
            if (enter || open.length === 0) {
              const h = hold();
              const mine = held.get(holder) ?? 0;
              const expected = mine < S || total < connections - S;
              expect(adm.enterTarget(h, target, holder, false)).toBe(expected);
              if (expected) {
                held.set(holder, mine + 1);
                total++;
                open.push({ h, holder });
              }
            } else {
              const o = open.splice(open.length >> 1, 1)[0]!;
              adm.release(o.h);
              held.set(o.holder, held.get(o.holder)! - 1);
              total--;
            }
            const load = adm.loadOf(target);
            expect(load.total).toBe(total);
            expect(load.anonymous).toBe(held.get(null) ?? 0);
            expect(adm.totals.anonymousOnTargets + adm.totals.consumersOnTargets).toBe(total);
          }
          for (const o of open) adm.release(o.h);
          const load = adm.loadOf(target);
          expect([load.total, load.anonymous, load.byConsumer.size]).toEqual([0, 0, 0]);
        },
      ),
    );
  });

  it('a greedy holder leaves S connections free: a newcomer gets all S without queueing behind it', () => {
    const adm = new Admission({ maxPerAddress: 0, maxPerConsumer: 0, upstreamShare: 0.25 });
    const target = { connections: 128 };
    let greedy = 0;
    while (adm.enterTarget(hold(), target, null, false)) greedy++;
    expect(greedy).toBe(96);
    let newcomer = 0;
    while (newcomer < 100 && adm.enterTarget(hold(), target, 'paying', false)) newcomer++;
    expect(newcomer).toBe(32);
    // Together exactly the pool: nobody waits in undici's queue.
    expect(adm.loadOf(target).total).toBe(128);
  });

  it('a retry moves its slot to the other target (forced) and release frees it there', () => {
    const adm = new Admission({ maxPerAddress: 0, maxPerConsumer: 0, upstreamShare: 0.5 });
    const a = { connections: 2 };
    const b = { connections: 2 };
    const h = hold();
    expect(adm.enterTarget(h, a, 'c', false)).toBe(true);
    expect(adm.enterTarget(h, b, 'c', true)).toBe(true);
    expect([adm.loadOf(a).total, adm.loadOf(b).total]).toEqual([0, 1]);
    adm.release(h);
    expect(adm.loadOf(b).total).toBe(0);
    expect(adm.loadOf(b).byConsumer.size).toBe(0);
  });

  it('share 1 disables the check', () => {
    const adm = new Admission({ maxPerAddress: 0, maxPerConsumer: 0, upstreamShare: 1 });
    const target = { connections: 4 };
    for (let i = 0; i < 100; i++) expect(adm.enterTarget(hold(), target, 'c', false)).toBe(true);
    expect(() => new Admission({ maxPerAddress: 0, maxPerConsumer: 0, upstreamShare: 0 })).toThrow(
      RangeError,
    );
  });
});
