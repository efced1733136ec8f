import type { LeaseCall, LeaseNotice } from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type Redis, waitForRedis } from './client.ts';
import { RedisLeaseStore } from './redis-lease-store.ts';
import { LimiterUnavailableError } from './redis-limiter.ts';
import { type PrivateRedis, startPrivateRedis } from './testing/private-redis.ts';

/** A first call on a fresh lease id (the holder has seen nothing granted yet). */
const OPEN_LEASE = { lease: 'L1', granted: 0, used: 0, close: false, window: 0 } as const;

// Breaks Redis on purpose, so it runs its own redis-server child (never the shared stack's).
const TIMEOUT_MS = 100;
const MARGIN_MS = 100;

let server: PrivateRedis;
let redis: Redis;
let subscriber: Redis;
let store: RedisLeaseStore;
const notices: LeaseNotice[] = [];
let connectionErrors = 0;
let slowestFailureMs = 0;

beforeAll(async () => {
  server = await startPrivateRedis();
  const onError = () => {
    connectionErrors += 1;
  };
  redis = createRedis({ url: server.url, commandTimeoutMs: TIMEOUT_MS, onError });
  subscriber = createRedis({ url: server.url, commandTimeoutMs: TIMEOUT_MS, onError });
  await Promise.all([waitForRedis(redis), waitForRedis(subscriber)]);
  store = new RedisLeaseStore({ redis, subscriber, keyPrefix: 'outage:', timeoutMs: TIMEOUT_MS });
  store.listen((n) => notices.push(n));
  await store.listening();
});

afterAll(async () => {
  console.info(
    `lease outage test: slowest failed run ${slowestFailureMs.toFixed(1)} ms (timeout ${TIMEOUT_MS} ms), ${connectionErrors} connection errors seen`,
  );
  redis?.disconnect();
  subscriber?.disconnect();
  await server?.stop();
});

const quota = { limit: 1_000_000, periodId: 20_000, keyTtlMs: 3_600_000 };

function call(holder = 'g1'): LeaseCall {
  return {
    holder,
    nowMs: null,
    ops: [
      { kind: 'quota-lease', subject: 'c', quota, ...OPEN_LEASE, want: 10, leaseTtlMs: 10_000 },
      { kind: 'decide', subject: 'c', rateSubject: 'c', cost: 1, quota, rate: null, mayWait: false },
    ],
  };
}

/** Resolves to [error, elapsed ms] of one run expected to fail. */
async function timedFailure(): Promise<[unknown, number]> {
  const t0 = performance.now();
  try {
    await store.run(call());
    return [null, performance.now() - t0];
  } catch (err) {
    const ms = performance.now() - t0;
    slowestFailureMs = Math.max(slowestFailureMs, ms);
    return [err, ms];
  }
}

async function pollUntilRunsWork(deadlineMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      await store.run(call());
      return Date.now() - t0;
    } catch (err) {
      if (!(err instanceof LimiterUnavailableError)) throw err;
    }
    if (Date.now() - t0 > deadlineMs) throw new Error(`lease store not back after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function eventually(ready: () => boolean, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (!ready() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return ready();
}

describe('redis lease store when Redis fails', () => {
  it('Redis stalled (SIGSTOP): run rejects with LimiterUnavailableError within the timeout, then recovers', async () => {
    expect(await store.run(call())).toHaveLength(2);
    server.pause();
    try {
      for (let i = 0; i < 5; i++) {
        const [err, ms] = await timedFailure();
        expect(err).toBeInstanceOf(LimiterUnavailableError);
        expect((err as LimiterUnavailableError).message).toMatch(
          /redis lease store run \(2 ops\) (timed out|failed)/,
        );
        expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      }
      const t0 = performance.now();
      await expect(store.refund('c', 20_000, 1)).rejects.toBeInstanceOf(LimiterUnavailableError);
      expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    } finally {
      server.resume();
    }
    await pollUntilRunsWork(5_000);
  });

  it('Redis stopped: run rejects fast; after a restart (no scripts, no subscriptions) runs and notices work again', async () => {
    expect(await store.run(call())).toHaveLength(2);
    await server.stop();
    for (let i = 0; i < 5; i++) {
      const [err, ms] = await timedFailure();
      expect(err).toBeInstanceOf(LimiterUnavailableError);
      expect((err as LimiterUnavailableError).kind).toBe('unavailable');
      expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      await new Promise((r) => setTimeout(r, 100));
    }
    await server.start();
    // The new server has no scripts loaded: the EVALSHA → NOSCRIPT → EVAL fallback must kick in.
    expect(await pollUntilRunsWork(10_000)).toBeLessThan(10_000);
    // The subscriber reconnects and subscribes again: a reclaim published now reaches the listener.
    const before = notices.length;
    const small = { limit: 160, periodId: 20_000, keyTtlMs: 3_600_000 };
    const [lease] = await store.run({
      holder: 'g1',
      nowMs: null,
      ops: [{ kind: 'quota-lease', subject: 'r', quota: small, ...OPEN_LEASE, want: 10, leaseTtlMs: 10_000 }],
    });
    expect(lease).toMatchObject({ granted: 10 });
    const reclaim = async () => {
      const [d] = await store.run({
        holder: 'g2',
        nowMs: null,
        ops: [
          {
            kind: 'decide',
            subject: 'r',
            rateSubject: 'r',
            cost: 160,
            quota: small,
            rate: null,
            mayWait: true,
          },
        ],
      });
      expect(d).toMatchObject({ outcome: 'wait' });
    };
    // Retried until the resubscription is in place (a notice published before it is lost: at most once).
    const deadline = Date.now() + 10_000;
    while (notices.length === before && Date.now() < deadline) {
      await reclaim();
      await eventually(() => notices.length > before, 200);
    }
    expect(notices.at(-1)).toEqual({ kind: 'reclaim', subject: 'r', periodId: 20_000 });
  });
});
