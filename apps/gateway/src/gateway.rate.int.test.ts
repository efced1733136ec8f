import { randomUUID } from 'node:crypto';
import { LeasingLimiter } from '@tollgate/core';
import { createRedis, RedisLeaseStore, RedisLimiter, waitForRedis } from '@tollgate/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../../../infra/testing/stack.ts';
import { buildTestGateway, fixtureSnapshot, IDS, StaticSource, startEcho } from './testing/fixtures.ts';

const stack = sharedStackEnv();

describe('gateway.rate (shared Redis)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('after the burst, the admitted rate is within 5% of the configured rate', async () => {
    const echo = await startEcho();
    cleanup.push(() => echo.close());
    const redis = createRedis({ url: stack.REDIS_URL!, commandTimeoutMs: 1000 });
    await waitForRedis(redis);
    cleanup.push(async () => redis.disconnect());
    const limiter = new RedisLimiter({ redis, timeoutMs: 1000, keyPrefix: `test:${randomUUID()}:` });
    const RATE = 40;
    // A one-second burst: a client stalled by a busy machine (CI runs test files side by side)
    // loses no tokens unless it stalls for longer than that, so the measured rate is the limiter's.
    const BURST = 40;
    const source = new StaticSource(
      fixtureSnapshot(echo.url, { quota: null, rateLimitPerSecond: RATE, burst: BURST }),
    );
    const { key } = source.addKey(IDS.consumer);
    const gw = await buildTestGateway(source, { limiter });
    cleanup.push(() => gw.close());
    await expectRate([gw], key, RATE, BURST);
  }, 30_000);

  it('with quota leasing on three replicas (leased shares of one bucket), the admitted rate is within 5% of the configured rate', async () => {
    const echo = await startEcho();
    cleanup.push(() => echo.close());
    const prefix = `test:${randomUUID()}:`;
    const RATE = 40;
    const BURST = 40;
    const source = new StaticSource(
      fixtureSnapshot(echo.url, { quota: null, rateLimitPerSecond: RATE, burst: BURST }),
    );
    const { key } = source.addKey(IDS.consumer);
    const gws = [];
    for (let i = 0; i < 3; i++) {
      const redis = createRedis({ url: stack.REDIS_URL!, commandTimeoutMs: 1000 });
      const subscriber = createRedis({ url: stack.REDIS_URL!, commandTimeoutMs: 1000 });
      await waitForRedis(redis);
      const store = new RedisLeaseStore({ redis, subscriber, keyPrefix: prefix, timeoutMs: 1000 });
      const limiter = new LeasingLimiter({ store, holder: `rate-test-${i}-${randomUUID()}` });
      const gw = await buildTestGateway(source, { limiter });
      cleanup.push(async () => {
        await gw.close();
        await limiter.close();
        redis.disconnect();
        subscriber.disconnect();
      });
      gws.push(gw);
    }
    await expectRate(gws, key, RATE, BURST);
  }, 30_000);
});

/** Six clients spread over `gws` for 6 s: after the burst, the admitted rate within 5% of `rate`. */
async function expectRate(
  gws: Awaited<ReturnType<typeof buildTestGateway>>[],
  key: string,
  RATE: number,
  BURST: number,
): Promise<void> {
  const DURATION_MS = 6000;
  let admitted = 0;
  let refused = 0;
  let other = 0;
  const start = Date.now();
  // The bucket starts full at the first check: measure from the first answer, not from start.
  let firstAnswerAt = 0;
  let lastAdmitAt = start;
  const worker = async (index: number) => {
    const gw = gws[index % gws.length]!;
    while (Date.now() - start < DURATION_MS) {
      const res = await gw.app.inject({ method: 'GET', url: '/echo/x', headers: { 'x-api-key': key } });
      if (firstAnswerAt === 0) firstAnswerAt = Date.now();
      if (res.statusCode === 200) {
        admitted++;
        lastAdmitAt = Date.now();
      } else if (res.statusCode === 429) refused++;
      else other++;
    }
  };
  await Promise.all(Array.from({ length: 6 }, (_, i) => worker(i)));
  const elapsedS = (lastAdmitAt - firstAnswerAt) / 1000;
  const rate = (admitted - BURST) / elapsedS;
  console.info(
    `rate: admitted ${admitted} (burst ${BURST}) in ${elapsedS.toFixed(2)} s = ${rate.toFixed(2)}/s for ${RATE}/s`,
  );
  expect(other).toBe(0);
  expect(refused).toBeGreaterThan(admitted);
  expect(
    Math.abs(rate - RATE) / RATE,
    `admitted ${admitted} in ${elapsedS}s: ${rate.toFixed(2)}/s`,
  ).toBeLessThanOrEqual(0.05);
}
