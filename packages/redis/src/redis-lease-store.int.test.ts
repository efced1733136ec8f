import { randomUUID } from 'node:crypto';
import { type LeaseCall, MemoryLeaseStore, systemClock } from '@tollgate/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../../../infra/testing/stack.ts';
import { leaseScenarioArb } from '../../core/src/leasing/testing/lease-call-arbitrary.ts';
import { memoryLeaseState } from '../../core/src/leasing/testing/lease-state.ts';
import {
  type LeaseStoreFactory,
  leaseStoreContract,
  playDifferential,
} from '../../core/src/leasing/testing/lease-store-contract.ts';
import { createRedis, type Redis, waitForRedis } from './client.ts';
import { RedisLeaseStore } from './redis-lease-store.ts';
import { RedisLimiter } from './redis-limiter.ts';
import { redisLeaseState } from './testing/redis-lease-state.ts';

/** A first call on a fresh lease id (the holder has seen nothing granted yet). */
const OPEN_LEASE = { lease: 'L1', granted: 0, used: 0, close: false, window: 0 } as const;

// Real Redis from the shared stack; every store writes under its own key prefix.
const REDIS_URL = sharedStackEnv().REDIS_URL!;
const prefix = `test:lease:${randomUUID()}:`;
const NOTICE_DEADLINE_MS = 3_000;
let admin: Redis;
let stores = 0;

beforeAll(async () => {
  admin = createRedis({ url: REDIS_URL, commandTimeoutMs: 5_000 });
  await waitForRedis(admin);
});

afterAll(async () => {
  const keys = await admin.keys(`${prefix}*`);
  for (let i = 0; i < keys.length; i += 500) await admin.del(...keys.slice(i, i + 500));
  admin.disconnect();
});

/** A store on its own prefix, with its own command and subscriber connections. */
const redisFactory: LeaseStoreFactory = async (policy) => {
  const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 5_000 });
  const subscriber = createRedis({ url: REDIS_URL, commandTimeoutMs: 5_000 });
  await Promise.all([waitForRedis(redis), waitForRedis(subscriber)]);
  stores += 1;
  const store = new RedisLeaseStore({
    redis,
    subscriber,
    keyPrefix: `${prefix}${stores}:`,
    timeoutMs: 5_000,
    policy,
  });
  await store.listening();
  return {
    store,
    state: (names) => redisLeaseState(redis, store, names),
    close: async () => {
      redis.disconnect();
      subscriber.disconnect();
    },
  };
};

const memoryFactory: LeaseStoreFactory = async (policy) => {
  const store = new MemoryLeaseStore(systemClock, policy);
  return { store, state: async (names) => memoryLeaseState(store, names), close: async () => {} };
};

leaseStoreContract('RedisLeaseStore', redisFactory, {
  propertyRuns: 40,
  noticeDeadlineMs: NOTICE_DEADLINE_MS,
});

describe('RedisLeaseStore: the same as MemoryLeaseStore', () => {
  it('generated calls get identical replies, state after every call, and notices in order', async () => {
    let played = 0;
    let ops = 0;
    await fc.assert(
      fc.asyncProperty(leaseScenarioArb(40), async (scenario) => {
        ops += scenario.calls.reduce((n, c) => n + c.ops.length, 0);
        await playDifferential(scenario, memoryFactory, redisFactory, NOTICE_DEADLINE_MS);
        played += 1;
      }),
      { numRuns: 150 },
    );
    console.info(`lease differential: 150 scenarios, ${ops} ops`);
    expect(played).toBe(150);
  });
});

describe('RedisLeaseStore: Redis specifics', () => {
  async function open(opts: { timeoutMs?: number } = {}) {
    const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 5_000 });
    await waitForRedis(redis);
    stores += 1;
    const keyPrefix = `${prefix}${stores}:`;
    const store = new RedisLeaseStore({ redis, keyPrefix, timeoutMs: opts.timeoutMs ?? 5_000 });
    return { redis, store, keyPrefix };
  }

  /** Records the name of every command the client sends. */
  function commandLog(redis: Redis): string[] {
    const log: string[] = [];
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((cmd: { name: string }, ...rest: unknown[]) => {
      log.push(cmd.name);
      return (send as (...a: unknown[]) => unknown)(cmd, ...rest);
    }) as typeof redis.sendCommand;
    return log;
  }

  const quota = { limit: 1_000, periodId: 20_000, keyTtlMs: 3_600_000 };
  const rate = { perSecond: 100, burst: 100, keyTtlMs: 2_000 };

  it('one run of many ops over several subjects is one EVALSHA', async () => {
    const { redis, store } = await open();
    const call: LeaseCall = {
      holder: 'g1',
      nowMs: null,
      ops: [
        { kind: 'quota-lease', subject: 'a', quota, ...OPEN_LEASE, want: 50, leaseTtlMs: 10_000 },
        { kind: 'rate-lease', rateSubject: 'k', rate, keep: 0, ret: 0, want: 10, shareTtlMs: 1_000 },
        ...Array.from({ length: 30 }, (_, i) => ({
          kind: 'decide' as const,
          subject: `s${i % 5}`,
          rateSubject: `k${i % 3}`,
          cost: 1,
          quota,
          rate,
          mayWait: true,
        })),
      ],
    };
    await store.run(call); // loads the script (EVALSHA, then EVAL on NOSCRIPT if new to this server)
    const log = commandLog(redis);
    for (let i = 0; i < 5; i++) expect(await store.run(call)).toHaveLength(32);
    expect(log).toEqual(['evalsha', 'evalsha', 'evalsha', 'evalsha', 'evalsha']);
    expect(store.calls()).toBe(6);
    redis.disconnect();
  });

  it('keys expire as the ops say, and a bucket lives at least as long as the shares in it', async () => {
    const { redis, store } = await open();
    await store.run({
      holder: 'g1',
      nowMs: null,
      ops: [
        { kind: 'quota-lease', subject: 'a', quota, ...OPEN_LEASE, want: 50, leaseTtlMs: 10_000 },
        { kind: 'rate-lease', rateSubject: 'k', rate, keep: 0, ret: 0, want: 10, shareTtlMs: 7_000 },
        { kind: 'decide', subject: 'b', rateSubject: 'kb', cost: 1, quota, rate, mayWait: false },
      ],
    });
    const pttl = async (key: string) => Number(await redis.pttl(key));
    for (const key of [
      store.quotaKey('a', 20_000),
      store.leaseKey('a', 20_000),
      store.quotaKey('b', 20_000),
    ]) {
      const ms = await pttl(key);
      expect(ms).toBeGreaterThan(quota.keyTtlMs - 60_000);
      expect(ms).toBeLessThanOrEqual(quota.keyTtlMs);
    }
    expect(await pttl(store.bucketKey('kb'))).toBeGreaterThan(0);
    expect(await pttl(store.bucketKey('kb'))).toBeLessThanOrEqual(rate.keyTtlMs);
    // The share outlives the bucket's own TTL, so the key must too.
    expect(await pttl(store.bucketKey('k'))).toBeGreaterThan(rate.keyTtlMs);
    expect(await pttl(store.bucketKey('k'))).toBeLessThanOrEqual(7_000);
    redis.disconnect();
  });

  it('RedisLimiter and RedisLeaseStore count one quota (a mixed fleet stays exact)', async () => {
    const { redis, store, keyPrefix } = await open();
    const limiter = new RedisLimiter({ redis, keyPrefix, timeoutMs: 5_000 });
    const now = Date.now();
    const periodStart = 20_000 * 86_400_000;
    const q = { limit: 10, periodStart, periodEnd: now + 3_600_000 };
    const d = await limiter.check({ subject: 'mix', cost: 3, now, quota: q, rate: null });
    expect(d.allowed).toBe(true);
    const [lease] = await store.run({
      holder: 'g1',
      nowMs: null,
      ops: [
        {
          kind: 'quota-lease',
          subject: 'mix',
          quota: { limit: 10, periodId: 20_000, keyTtlMs: 60_000 },
          ...OPEN_LEASE,
          want: 10,
          leaseTtlMs: 5_000,
        },
      ],
    });
    // 7 free: a block of floor(7 / 16) = 0 with the default policy; a decision of 7 fits.
    expect(lease).toEqual({ kind: 'quota-lease', granted: 0, used: 3, expired: false, returned: 0 });
    const [dec] = await store.run({
      holder: 'g1',
      nowMs: null,
      ops: [
        {
          kind: 'decide',
          subject: 'mix',
          rateSubject: 'mix',
          cost: 7,
          quota: { limit: 10, periodId: 20_000, keyTtlMs: 60_000 },
          rate: null,
          mayWait: false,
        },
      ],
    });
    expect(dec).toEqual({ kind: 'decide', outcome: 'allowed', used: 3, tokens: null });
    const after = await limiter.check({ subject: 'mix', cost: 1, now, quota: q, rate: null });
    expect(after).toMatchObject({ allowed: false, limitedBy: 'quota' });
    redis.disconnect();
  });

  it("a reply waiting on the socket wins over a deadline that passed while this process's loop was busy", async () => {
    const { redis, store } = await open({ timeoutMs: 30 });
    const call: LeaseCall = {
      holder: 'g1',
      nowMs: null,
      ops: [{ kind: 'quota-lease', subject: 'lag', quota, ...OPEN_LEASE, want: 5, leaseTtlMs: 5_000 }],
    };
    await store.run(call);
    for (let i = 0; i < 3; i++) {
      const pending = store.run(call);
      const until = performance.now() + 120; // block the loop past the deadline; Redis answers meanwhile
      while (performance.now() < until) {}
      await expect(pending).resolves.toHaveLength(1);
    }
    redis.disconnect();
  });

  it('a message on the notice channel that is not a notice is counted, never delivered', async () => {
    const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 5_000 });
    const subscriber = createRedis({ url: REDIS_URL, commandTimeoutMs: 5_000 });
    await Promise.all([waitForRedis(redis), waitForRedis(subscriber)]);
    stores += 1;
    const keyPrefix = `${prefix}${stores}:`;
    const errors: string[] = [];
    const store = new RedisLeaseStore({
      redis,
      subscriber,
      keyPrefix,
      onNoticeError: (e) => errors.push(e.message),
    });
    const got: unknown[] = [];
    store.listen((n) => got.push(n));
    await store.listening();
    for (const bad of ['reclaim', 'reclaim:x:s', 'grab:1:s'])
      await admin.publish(`${keyPrefix}lease-notices`, bad);
    await admin.publish(`${keyPrefix}lease-notices`, 'returned:20000:a:b');
    const until = Date.now() + 3_000;
    while (got.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([{ kind: 'returned', subject: 'a:b', periodId: 20_000 }]);
    expect(store.noticeErrors).toBe(3);
    expect(errors).toHaveLength(3);
    redis.disconnect();
    subscriber.disconnect();
  });

  it('listen without a subscriber connection throws', async () => {
    const { redis, store } = await open();
    expect(() => store.listen(() => {})).toThrow(/subscriber/);
    redis.disconnect();
  });
});
