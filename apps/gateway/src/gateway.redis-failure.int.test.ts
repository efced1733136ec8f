import { randomUUID } from 'node:crypto';
import type { Plan } from '@tollgate/core';
import { createRedis, limiterClientTimeoutMs, RedisLimiter, waitForRedis } from '@tollgate/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestGateway,
  type Echo,
  fixtureSnapshot,
  IDS,
  StaticSource,
  startEcho,
} from './testing/fixtures.ts';
import { type PrivateRedis, startPrivateRedis } from './testing/private-redis.ts';
import { waitFor } from './testing/seed.ts';

const TIMEOUT_MS = 100;
/** Scheduling slack on a shared 2-core machine: every request must finish within timeout + this. */
const MARGIN_MS = 150;

describe('gateway.redis-failure (private redis-server)', () => {
  let redisServer: PrivateRedis;
  let echo: Echo;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    echo = await startEcho();
  });
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await echo?.close();
    await redisServer?.stop();
  });

  async function gateway(policy: Plan['redisFailurePolicy']) {
    // As main.ts builds it: the limiter's deadline bounds the wait, the client's is a backstop.
    const redis = createRedis({
      url: redisServer.url,
      commandTimeoutMs: limiterClientTimeoutMs(TIMEOUT_MS),
      connectTimeoutMs: 200,
    });
    redis.on('error', () => {});
    await waitForRedis(redis);
    cleanup.push(async () => redis.disconnect());
    const limiter = new RedisLimiter({ redis, timeoutMs: TIMEOUT_MS, keyPrefix: `test:${randomUUID()}:` });
    const source = new StaticSource(fixtureSnapshot(echo.url, { quota: 100, redisFailurePolicy: policy }));
    const { key } = source.addKey(IDS.consumer);
    const gw = await buildTestGateway(source, { limiter });
    cleanup.push(() => gw.close());
    const timed = async () => {
      const t0 = performance.now();
      const res = await gw.app.inject({ method: 'GET', url: '/echo/x', headers: { 'x-api-key': key } });
      return { status: res.statusCode, ms: performance.now() - t0, retryAfter: res.headers['retry-after'] };
    };
    return { gw, timed, redis };
  }

  it('Redis stopped, then stalled: fail_closed answers 503 + Retry-After, fail_open admits; nobody waits past the timeout', async () => {
    const closed = await gateway('fail_closed');
    const open = await gateway('fail_open');
    expect((await closed.timed()).status).toBe(200);
    expect((await open.timed()).status).toBe(200);

    for (const outage of ['stopped', 'stalled'] as const) {
      if (outage === 'stopped') await redisServer.stop();
      else redisServer.pause();
      try {
        const samples = [];
        for (let i = 0; i < 10; i++) samples.push(await closed.timed(), await open.timed());
        const closedSamples = samples.filter((_, i) => i % 2 === 0);
        const openSamples = samples.filter((_, i) => i % 2 === 1);
        for (const s of closedSamples) {
          expect(s.status, outage).toBe(503);
          expect(s.retryAfter).toBe('1');
        }
        for (const s of openSamples) expect(s.status, outage).toBe(200);
        const worst = Math.max(...samples.map((s) => s.ms));
        console.info(`redis ${outage}: worst wait ${worst.toFixed(1)} ms (timeout ${TIMEOUT_MS} ms)`);
        expect(worst, `${outage}: worst wait ${worst.toFixed(1)} ms`).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      } finally {
        if (outage === 'stopped') await redisServer.start();
        else redisServer.resume();
      }
      // Recovery: both gateways use Redis again.
      await waitFor(async () => (await closed.timed()).status === 200, 10_000, 'fail_closed recovery');
    }
    const metrics = await open.gw.metrics.registry.metrics();
    expect(metrics).toMatch(/tollgate_gateway_fail_open_admitted_total [1-9]\d*/);
    expect(metrics).toMatch(/tollgate_gateway_limiter_decisions_total\{decision="fail_open"\} [1-9]/);
  }, 60_000);
});
