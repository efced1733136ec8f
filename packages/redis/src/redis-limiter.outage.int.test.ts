import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type Redis, waitForRedis } from './client.ts';
import { LimiterUnavailableError, limiterClientTimeoutMs, RedisLimiter } from './redis-limiter.ts';
import { type PrivateRedis, startPrivateRedis } from './testing/private-redis.ts';

// Breaks Redis on purpose, so it runs its own redis-server child (never the shared stack's).
const TIMEOUT_MS = 100;
const MARGIN_MS = 100;

let server: PrivateRedis;
let redis: Redis;
let control: Redis;
let limiter: RedisLimiter;
let connectionErrors = 0;
let slowestFailureMs = 0;

beforeAll(async () => {
  server = await startPrivateRedis();
  const onError = () => {
    connectionErrors += 1;
  };
  // As the gateway builds it: the limiter's deadline bounds the wait, the client's is a backstop.
  redis = createRedis({ url: server.url, commandTimeoutMs: limiterClientTimeoutMs(TIMEOUT_MS), onError });
  control = createRedis({ url: server.url, commandTimeoutMs: 5000, onError });
  await Promise.all([waitForRedis(redis), waitForRedis(control)]);
  limiter = new RedisLimiter({ redis, keyPrefix: 'outage:', timeoutMs: TIMEOUT_MS });
});

afterAll(async () => {
  console.info(
    `outage test: slowest failed check ${slowestFailureMs.toFixed(1)} ms (timeout ${TIMEOUT_MS} ms), ${connectionErrors} connection errors seen`,
  );
  redis?.disconnect();
  control?.disconnect();
  await server?.stop();
});

function req() {
  const now = Date.now();
  return {
    subject: 'c',
    cost: 1,
    now,
    quota: { limit: 1_000_000, periodStart: 0, periodEnd: now + 3_600_000 },
    rate: { perSecond: 10_000, burst: 10_000 },
  };
}

/** Resolves to [error, elapsed ms] of one check expected to fail. */
async function timedFailure(): Promise<[unknown, number]> {
  const t0 = performance.now();
  try {
    await limiter.check(req());
    return [null, performance.now() - t0];
  } catch (err) {
    const ms = performance.now() - t0;
    slowestFailureMs = Math.max(slowestFailureMs, ms);
    return [err, ms];
  }
}

async function pollUntilChecksWork(deadlineMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      const d = await limiter.check(req());
      if (d.allowed) return Date.now() - t0;
    } catch (err) {
      if (!(err instanceof LimiterUnavailableError)) throw err;
    }
    if (Date.now() - t0 > deadlineMs) throw new Error(`limiter not back after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('redis limiter when Redis fails', () => {
  it('Redis stalled (SIGSTOP): check rejects with LimiterUnavailableError within the timeout, then recovers', async () => {
    expect((await limiter.check(req())).allowed).toBe(true);
    server.pause();
    try {
      for (let i = 0; i < 5; i++) {
        const [err, ms] = await timedFailure();
        expect(err).toBeInstanceOf(LimiterUnavailableError);
        expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      }
    } finally {
      server.resume();
    }
    await pollUntilChecksWork(5000);
  });

  it('Redis stalled (DEBUG SLEEP from another connection): same bound, then recovers', async () => {
    expect((await limiter.check(req())).allowed).toBe(true);
    const sleeping = control.call('DEBUG', 'SLEEP', '2');
    await new Promise((r) => setTimeout(r, 20)); // let the control command reach the server first
    const results = await Promise.all([timedFailure(), timedFailure(), timedFailure()]);
    for (const [err, ms] of results) {
      expect(err).toBeInstanceOf(LimiterUnavailableError);
      expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    }
    await sleeping;
    await pollUntilChecksWork(5000);
  });

  it('Redis stopped: check rejects fast with LimiterUnavailableError; after a restart (empty script cache) it works again', async () => {
    expect((await limiter.check(req())).allowed).toBe(true);
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
    const backAfterMs = await pollUntilChecksWork(10_000);
    expect(backAfterMs).toBeLessThan(10_000);
    const refund = limiter.refund({ subject: 'c', cost: 1, quota: req().quota });
    await expect(refund).resolves.toBeUndefined();
  });
});
