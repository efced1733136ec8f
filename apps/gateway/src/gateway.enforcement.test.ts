import {
  type LimitDecision,
  type Limiter,
  type LimitRequest,
  MemoryLimiter,
  type MemoryUsageSink,
  type Plan,
} from '@tollgate/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestGateway,
  type Echo,
  fixtureSnapshot,
  IDS,
  StaticSource,
  startEcho,
} from './testing/fixtures.ts';

let echo: Echo;
beforeAll(async () => {
  echo = await startEcho();
});
afterAll(async () => {
  await echo.close();
});

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const g of opened.splice(0)) await g.close();
});

async function gateway(plan: Partial<Plan>, limiter?: Limiter) {
  const source = new StaticSource(fixtureSnapshot(echo.url, plan));
  const { key } = source.addKey(IDS.consumer);
  const gw = await buildTestGateway(source, limiter === undefined ? {} : { limiter });
  opened.push(gw);
  const get = (url = '/echo/x', headers: Record<string, string> = {}) =>
    gw.app.inject({ method: 'GET', url, headers: { 'x-api-key': key, ...headers } });
  return { gw, source, key, get, sink: gw.sink as MemoryUsageSink };
}

class FailingLimiter implements Limiter {
  checks = 0;
  async check(): Promise<LimitDecision> {
    this.checks++;
    throw new Error('redis down');
  }
  async refund(): Promise<void> {
    throw new Error('redis down');
  }
}

class RecordingLimiter extends MemoryLimiter {
  refunds: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>[] = [];
  override async refund(req: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>): Promise<void> {
    this.refunds.push(req);
    return super.refund(req);
  }
}

describe('gateway.limits', () => {
  it('a hard quota admits exactly the quota, then 429 with Retry-After and a body naming the limit', async () => {
    const { get, sink } = await gateway({ quota: 10 });
    const statuses: number[] = [];
    const remaining: number[] = [];
    for (let i = 0; i < 13; i++) {
      const res = await get();
      statuses.push(res.statusCode);
      remaining.push(Number(res.headers['x-ratelimit-remaining']));
      if (res.statusCode === 429) {
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(res.headers['content-type']).toBe('application/problem+json');
        expect(res.json()).toMatchObject({ status: 429, code: 'QUOTA_EXCEEDED', limit: 'quota' });
        expect(res.headers.ratelimit).toMatch(/^"quota";r=0;t=\d+$/);
      }
    }
    expect(statuses.filter((s) => s === 200).length).toBe(10);
    expect(statuses.slice(10)).toEqual([429, 429, 429]);
    expect(remaining).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0]);
    expect(sink.events.filter((e) => e.data.billable).length).toBe(10);
    expect(sink.events.filter((e) => e.data.status === 429 && !e.data.billable).length).toBe(3);
  });

  it('route cost weights count against the quota', async () => {
    const { get, sink } = await gateway({ quota: 12 });
    expect((await get('/echo/heavy')).headers['x-ratelimit-remaining']).toBe('7');
    expect((await get('/echo/heavy')).headers['x-ratelimit-remaining']).toBe('2');
    expect((await get('/echo/heavy')).statusCode).toBe(429);
    expect((await get('/echo/x')).headers['x-ratelimit-remaining']).toBe('1');
    expect(sink.events.map((e) => e.data.units)).toEqual([5, 5, 5, 1]);
  });

  it('a soft cap admits billed overage up to the ceiling; remaining stays 0 past the quota', async () => {
    const { get, sink } = await gateway({
      quota: 3,
      capMode: 'soft',
      overageUnitPriceDecimal: '0.5',
      overageCeiling: 2,
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get()).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(sink.events.filter((e) => e.data.billable).length).toBe(5);
    expect((await get()).headers.ratelimit).toMatch(/^"quota";r=0;/);
  });

  it('the rate limit refuses past the burst with the rate named, and headers follow the IETF draft', async () => {
    const { get } = await gateway({ quota: 1000, rateLimitPerSecond: 1, burst: 2 });
    const a = await get();
    expect(a.headers['ratelimit-policy']).toMatch(/^"quota";q=1000;w=\d+, "rate";q=1;w=1$/);
    expect(a.headers.ratelimit).toMatch(/^"quota";r=999;t=\d+, "rate";r=1;t=1$/);
    expect((await get()).statusCode).toBe(200);
    const refused = await get();
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'RATE_LIMITED', limit: 'rate' });
    expect(refused.headers['retry-after']).toBe('1');
    // A request refused by the rate consumed no quota.
    expect(refused.headers.ratelimit).toMatch(/^"quota";r=998;/);
  });

  it('rejected requests (401, 403, 413) never count against the quota', async () => {
    const { get, gw, key } = await gateway({ quota: 5 });
    await gw.app.inject({ method: 'GET', url: '/echo/x' });
    await get('/echo/admin');
    await gw.app.inject({
      method: 'POST',
      url: '/echo/x',
      headers: { 'x-api-key': key, 'content-type': 'application/octet-stream' },
      payload: Buffer.alloc(2 * 1024 * 1024),
    });
    expect((await get()).headers['x-ratelimit-remaining']).toBe('4');
  });

  it('upstream 5xx and timeouts are refunded and not billable by default', async () => {
    const limiter = new RecordingLimiter();
    const { get, sink } = await gateway({ quota: 5 }, limiter);
    expect((await get('/echo/status/500')).statusCode).toBe(500);
    expect((await get('/echo/status/503')).statusCode).toBe(503);
    const timedOut = await get('/echo/slow/1000');
    expect(timedOut.statusCode).toBe(504);
    expect(timedOut.json().code).toBe('UPSTREAM_TIMEOUT');
    expect(limiter.refunds.length).toBe(3);
    expect(sink.events.map((e) => [e.data.status, e.data.billable])).toEqual([
      [500, false],
      [503, false],
      [504, false],
    ]);
    expect((await get('/echo/status/404')).headers['x-ratelimit-remaining']).toBe('4');
    expect(sink.events.at(-1)!.data).toMatchObject({ status: 404, billable: true });
  });

  it('with countUpstreamErrors, upstream 5xx count and bill', async () => {
    const limiter = new RecordingLimiter();
    const { get, sink } = await gateway({ quota: 5, countUpstreamErrors: true }, limiter);
    expect((await get('/echo/status/502')).statusCode).toBe(502);
    expect(limiter.refunds.length).toBe(0);
    expect(sink.events[0]!.data.billable).toBe(true);
  });

  it('fail_closed: limiter down gives 503 with Retry-After and nothing reaches the upstream', async () => {
    const before = echo.requests.length;
    const { get } = await gateway({ quota: 5, redisFailurePolicy: 'fail_closed' }, new FailingLimiter());
    const res = await get();
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json().code).toBe('LIMITER_UNAVAILABLE');
    expect(echo.requests.length).toBe(before);
  });

  it('fail_open: limiter down admits on the local fallback limiter and counts it', async () => {
    const { get, gw } = await gateway({ quota: 2, redisFailurePolicy: 'fail_open' }, new FailingLimiter());
    expect((await get()).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(200);
    // The per-instance fallback still enforces the plan locally.
    expect((await get()).statusCode).toBe(429);
    const metrics = await gw.metrics.registry.metrics();
    expect(metrics).toMatch(/tollgate_gateway_fail_open_admitted_total 2/);
    expect(metrics).toMatch(/tollgate_gateway_redis_errors_total 3/);
  });

  it('two keys of one consumer share one quota whatever the limit scope; limitScope key splits only the rate', async () => {
    const statuses = async (plan: Partial<Plan>) => {
      const source = new StaticSource(fixtureSnapshot(echo.url, plan));
      const k1 = source.addKey(IDS.consumer).key;
      const k2 = source.addKey(IDS.consumer).key;
      const gw = await buildTestGateway(source);
      opened.push(gw);
      const call = (key: string) =>
        gw.app
          .inject({ method: 'GET', url: '/echo/x', headers: { 'x-api-key': key } })
          .then((r) => `${r.statusCode}${r.statusCode === 429 ? ` ${r.json().code}` : ''}`);
      return [await call(k1), await call(k1), await call(k2), await call(k2)];
    };
    // Quota 2 per consumer: more keys never mean more quota.
    for (const scope of ['key', 'consumer'] as const)
      expect(await statuses({ quota: 2, limitScope: scope }), scope).toEqual([
        '200',
        '200',
        '429 QUOTA_EXCEEDED',
        '429 QUOTA_EXCEEDED',
      ]);
    // A bucket of 1 that refills in 1000 s: per key, each key has its own.
    const slow = { quota: null, rateLimitPerSecond: 0.001, burst: 1 };
    expect(await statuses({ ...slow, limitScope: 'key' })).toEqual([
      '200',
      '429 RATE_LIMITED',
      '200',
      '429 RATE_LIMITED',
    ]);
    expect(await statuses({ ...slow, limitScope: 'consumer' })).toEqual([
      '200',
      '429 RATE_LIMITED',
      '429 RATE_LIMITED',
      '429 RATE_LIMITED',
    ]);
  });
});
