import { describe, expect, it } from 'vitest';
import { quotaPeriodId } from '../ports.ts';
import { DEFAULT_LEASE_POLICY, type LeasePolicy } from './lease-store.ts';
import type { LeasingLimiterOptions } from './leasing-limiter.ts';
import { DAY_MS, drain, LeaseWorld } from './testing/lease-world.ts';

// Deterministic scenarios of the guarantees the property test generates at random.
const START = 20_000 * DAY_MS + 1_000;
const PERIOD_START = 20_000 * DAY_MS;
const PERIOD = quotaPeriodId(PERIOD_START);
const OPTS: Partial<LeasingLimiterOptions> = {
  leaseTtlMs: 1_000,
  shareTtlMs: 300,
  idleMs: 400,
  reclaimWaitMs: 60,
  reportMs: 100,
};

function world(
  gateways: number,
  opts: Partial<LeasingLimiterOptions> = {},
  policy: LeasePolicy = DEFAULT_LEASE_POLICY,
) {
  const w = new LeaseWorld(START, policy, { ...OPTS, ...opts });
  for (let i = 0; i < gateways; i++) w.addGateway();
  return w;
}

function ask(
  w: LeaseWorld,
  gateway: number,
  limit: number,
  rate: { perSecond: number; burst: number } | null = null,
) {
  w.request(gateway, {
    subject: 'c:1',
    rateSubject: 'c:1',
    cost: 1,
    quota: { limit, periodStart: PERIOD_START, periodEnd: PERIOD_START + DAY_MS },
    rate,
  });
}

/** Requests on `gateway`, `perTurn` per event-loop turn, until one is refused; returns the admitted. */
async function untilRefused(w: LeaseWorld, gateway: number, limit: number, perTurn = 1): Promise<number> {
  const before = w.admissions.length;
  for (let turn = 0; turn <= limit; turn++) {
    const refusals = w.refusals;
    for (let i = 0; i < perTurn; i++) ask(w, gateway, limit);
    await w.settle();
    if (w.refusals > refusals) break;
  }
  return w.admissions.length - before;
}

describe('LeasingLimiter (in-memory store)', () => {
  it('blocks shrink with the remaining quota down to one unit, then every request asks the store: exactly the limit admitted', async () => {
    const w = world(1);
    const limiter = w.gateways[0]!.limiter;
    const grants: { granted: number; free: number }[] = [];
    let granted = 0;
    let counter = 0;
    for (let i = 0; i < 1_100; i++) {
      ask(w, 0, 1_000);
      await w.settle();
      const s = limiter.stats();
      if (s.unitsGranted > granted) grants.push({ granted: s.unitsGranted - granted, free: 1_000 - counter });
      granted = s.unitsGranted;
      counter = w.store.used('c:1', PERIOD);
    }
    expect(w.netAdmitted(PERIOD)).toBe(1_000);
    expect(w.store.used('c:1', PERIOD)).toBe(1_000);
    // Every block at most free/16 of what was free before it; the last ones a single unit.
    for (const g of grants) expect(g.granted).toBeLessThanOrEqual(Math.floor(g.free / 16) + 1);
    expect(grants.at(-1)!.granted).toBe(1);
    // The last 16 units (free < 16: no block) were decided by the store one by one.
    expect(limiter.stats().storeDecisions).toBeGreaterThanOrEqual(16 + 100);
  });

  it("units held in another gateway's lease are handed back on demand: exactly the limit admitted over three gateways", async () => {
    const w = world(3);
    // Each gateway takes a block and keeps it (busy, never idle long enough to give it back).
    for (let g = 0; g < 3; g++) {
      ask(w, g, 100);
      await w.settle();
      ask(w, g, 100);
      await w.settle();
    }
    expect(w.gateways.some((g) => g.limiter.stats().unitsHeld > 0)).toBe(true);
    const more = await untilRefused(w, 0, 100, 5);
    expect(w.netAdmitted(PERIOD)).toBe(100);
    expect(more).toBe(100 - 6);
    expect(w.gateways[0]!.limiter.stats().reclaimWaits).toBeGreaterThan(0);
    expect(
      w.gateways[1]!.limiter.stats().reclaimsAnswered + w.gateways[2]!.limiter.stats().reclaimsAnswered,
    ).toBeGreaterThan(0);
  });

  it("a SIGKILLed gateway's unused units come back when its lease expires, all but its report window", async () => {
    const window = 8;
    const w = world(2, { reportWindow: window, minUnits: 32, maxUnits: 64 });
    // Gateway 0 admits 5, then is killed holding the rest of its block.
    for (let i = 0; i < 2; i++) {
      ask(w, 0, 1_000);
      await w.settle();
    }
    for (let i = 0; i < 3; i++) ask(w, 0, 1_000);
    const crashed = w.gateways[0]!.limiter.stats();
    expect(crashed.unitsHeld).toBeGreaterThan(window);
    // The first request was decided by the store (no lease yet); the others locally, unreported.
    expect(crashed.localDecisions).toBe(4);
    w.crash(0);
    w.advance(1_100); // past the lease's TTL
    const admitted = await untilRefused(w, 1, 1_000, 10);
    const total = w.netAdmitted(PERIOD);
    expect(total).toBeLessThanOrEqual(1_000);
    // Everything but the window (of which 4 were really used) came back.
    expect(1_000 - total).toBeLessThanOrEqual(window);
    expect(1_000 - total).toBe(window - 4);
    expect(w.store.expired('c:1', PERIOD)).toEqual({ forfeited: window, expiries: 1 });
    expect(admitted).toBe(total - 5);
  });

  it('a report whose answer was lost still binds: no local admission beyond its window, so a crash right after never over-admits', async () => {
    const w = world(2, { reportWindow: 8, minUnits: 32, maxUnits: 64 });
    for (let i = 0; i < 2; i++) {
      ask(w, 0, 1_000);
      await w.settle();
    }
    // Quiet: the lease parks (a report with a window of 0); the store applies it, the answer is lost.
    w.advance(150);
    w.runSoon(0);
    expect(w.execute(0)).toBe(true);
    w.lose(0, false);
    await drain();
    const local = w.gateways[0]!.limiter.stats().localDecisions;
    for (let i = 0; i < 3; i++) ask(w, 0, 1_000);
    expect(w.gateways[0]!.limiter.stats().localDecisions).toBe(local);
    w.crash(0);
    w.advance(1_100);
    ask(w, 1, 1_000);
    await w.settle();
    expect(w.netAdmitted(PERIOD)).toBeLessThanOrEqual(w.store.used('c:1', PERIOD));
  });

  it('a gateway SIGKILLed while its lease is quiet (parked) gives every unused unit back when the lease expires', async () => {
    const w = world(2, { minUnits: 32, maxUnits: 64 });
    for (let i = 0; i < 5; i++) {
      ask(w, 0, 1_000);
      await w.settle();
    }
    // Quiet for more than reportMs (100) but less than idleMs (400): the lease parks, not closes.
    await w.quiesce(200, 50);
    expect(w.gateways[0]!.limiter.stats().unitsHeld).toBeGreaterThan(0);
    w.crash(0);
    w.advance(1_100);
    await untilRefused(w, 1, 1_000, 10);
    expect(w.netAdmitted(PERIOD)).toBe(1_000);
    expect(w.store.expired('c:1', PERIOD)).toEqual({ forfeited: 0, expiries: 1 });
  });

  it('an idle subject gives its unused units back', async () => {
    const w = world(1);
    const limiter = w.gateways[0]!.limiter;
    for (let i = 0; i < 3; i++) {
      ask(w, 0, 1_000);
      await w.settle();
    }
    expect(limiter.stats().unitsHeld).toBeGreaterThan(0);
    await w.quiesce(600, 100); // idleMs 400
    expect(limiter.stats().unitsHeld).toBe(0);
    expect(w.store.used('c:1', PERIOD)).toBe(3);
  });

  it("at the period's end a busy lease gives its unused units back", async () => {
    const w = new LeaseWorld(PERIOD_START + DAY_MS - 300, DEFAULT_LEASE_POLICY, { ...OPTS, idleMs: 60_000 });
    w.addGateway();
    for (let i = 0; i < 3; i++) {
      ask(w, 0, 1_000);
      await w.settle();
    }
    expect(w.gateways[0]!.limiter.stats().unitsHeld).toBeGreaterThan(0);
    await w.quiesce(400, 50);
    expect(w.gateways[0]!.limiter.stats().unitsHeld).toBe(0);
    expect(w.store.used('c:1', PERIOD)).toBe(3);
  });

  it('close() (shutdown) gives every unused unit back', async () => {
    const w = world(1, { idleMs: 60_000 });
    const limiter = w.gateways[0]!.limiter;
    for (let i = 0; i < 5; i++) {
      ask(w, 0, 1_000);
      await w.settle();
    }
    expect(limiter.stats().unitsHeld).toBeGreaterThan(0);
    const closing = limiter.close();
    await w.settle();
    await closing;
    expect(limiter.stats().unitsHeld).toBe(0);
    expect(w.store.used('c:1', PERIOD)).toBe(5);
  });

  it('steady state: at most 20 store calls per 1,000 requests (quota and rate leased together)', async () => {
    const w = world(1, { idleMs: 60_000, leaseTtlMs: 10_000, shareTtlMs: 1_000 });
    const limiter = w.gateways[0]!.limiter;
    const rate = { perSecond: 1_000_000, burst: 1_000_000 };
    const run = async (requests: number) => {
      for (let i = 0; i < requests; i += 50) {
        for (let j = 0; j < 50; j++) ask(w, 0, 100_000_000, rate);
        await w.settle();
        w.advance(5); // 10,000 requests per second
      }
    };
    await run(5_000); // warm-up: blocks grow to their largest
    const calls = limiter.stats().storeCalls;
    await run(20_000);
    const perThousand = ((limiter.stats().storeCalls - calls) / 20_000) * 1_000;
    expect(w.refusals).toBe(0);
    console.log(`store calls per 1,000 requests: ${perThousand.toFixed(1)}`);
    expect(perThousand).toBeLessThanOrEqual(20);
  });
});
