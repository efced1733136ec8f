import { randomUUID } from 'node:crypto';
import type { LimitDecision, Limiter, LimitRequest } from '@tollgate/core';
import { createRedis, limiterClientTimeoutMs, RedisLimiter, waitForRedis } from '@tollgate/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../../../infra/testing/stack.ts';
import {
  buildTestGateway,
  type Echo,
  fixtureSnapshot,
  IDS,
  StaticSource,
  startEcho,
} from './testing/fixtures.ts';

/** The production default (REDIS_TIMEOUT_MS). */
const TIMEOUT_MS = 50;
/** Longer than the deadline by far: a reply that came during it must still be used. */
const STALL_MS = 4 * TIMEOUT_MS;

/** Blocks this thread (the gateway's event loop) for `ms`, without spinning a core. */
function stallLoop(ms: number): number {
  const t0 = performance.now();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  return performance.now() - t0;
}

/**
 * The real Redis limiter; after the checks of a turn, the loop stalls once (queued behind the
 * limiter's flush, so its script call is on the wire while the loop is blocked).
 */
class StallAfterSend implements Limiter {
  stalls: number[] = [];
  private armed = false;

  constructor(private readonly inner: RedisLimiter) {}

  arm(): void {
    this.armed = true;
  }

  check(req: LimitRequest): Promise<LimitDecision> {
    const decision = this.inner.check(req);
    if (this.armed) {
      this.armed = false;
      setImmediate(() => this.stalls.push(stallLoop(STALL_MS)));
    }
    return decision;
  }

  refund(req: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>): Promise<void> {
    return this.inner.refund(req);
  }
}

describe('gateway.loop-stall (shared Redis)', () => {
  let echo: Echo;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    echo = await startEcho();
  });
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await echo?.close();
  });

  it('the loop stalls 4× the limiter timeout while Redis calls are out: no LIMITER_UNAVAILABLE, no timeout counted (fail_closed plan)', async () => {
    const redis = createRedis({
      url: sharedStackEnv().REDIS_URL!,
      commandTimeoutMs: limiterClientTimeoutMs(TIMEOUT_MS),
    });
    await waitForRedis(redis);
    cleanup.push(async () => redis.disconnect());
    const inner = new RedisLimiter({
      redis,
      timeoutMs: TIMEOUT_MS,
      keyPrefix: `test:stall:${randomUUID()}:`,
    });
    const limiter = new StallAfterSend(inner);
    const source = new StaticSource(
      fixtureSnapshot(echo.url, { quota: 10_000, redisFailurePolicy: 'fail_closed' }),
    );
    const { key } = source.addKey(IDS.consumer);
    // Pool and share large enough for a burst of 20 (this test is not about admission).
    const gw = await buildTestGateway(source, { limiter, connections: 64, admission: { upstreamShare: 1 } });
    cleanup.push(() => gw.close());
    const call = () => gw.app.inject({ method: 'GET', url: '/echo/x', headers: { 'x-api-key': key } });
    expect((await call()).statusCode).toBe(200); // key cached, script loaded

    const statuses: number[] = [];
    for (let round = 0; round < 5; round++) {
      limiter.arm();
      const answers = await Promise.all(Array.from({ length: 20 }, call));
      for (const a of answers) statuses.push(a.statusCode);
    }
    expect(limiter.stalls).toHaveLength(5);
    for (const ms of limiter.stalls) expect(ms).toBeGreaterThanOrEqual(STALL_MS - 1);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(statuses).toHaveLength(100);
    const text = await gw.metrics.registry.metrics();
    expect(text).not.toMatch(/tollgate_gateway_limiter_timeouts_total\{[^}]*\} [1-9]/);
    expect(text).not.toMatch(/tollgate_gateway_limiter_decisions_total\{decision="fail_closed"\} [1-9]/);
  }, 30_000);
});
