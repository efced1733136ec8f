import { createUsageStore } from '@tollgate/clickhouse';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseDateTime, toUsageEventRow } from '../src/ingest/event-row.ts';
import { type Account, auth, createAccount, SERVICE_TOKEN, testApp } from './accounts.ts';
import { quietly } from './cleanup.ts';
import { clickhouseRunner, makeEvent } from './helpers.ts';

/** The usage API over real ClickHouse and Postgres, rows inserted directly (ingest has its own tests). */
describe('usage-api', () => {
  let ch: TestClickhouseDatabase;
  let db: TestDatabase;
  let store: ReturnType<typeof clickhouseRunner>;
  let app: FastifyInstance;
  let account: Account;
  const base = Date.UTC(2026, 10, 20, 10, 0, 0); // 2026-11-20T10:00:00Z
  const range = `from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z`;

  beforeAll(async () => {
    [ch, db] = await Promise.all([createTestClickhouseDatabase(), createTestDatabase()]);
    store = clickhouseRunner(ch.url, ch.database);
    account = await createAccount(db.prisma, {
      quota: 40,
      periodStart: new Date(Date.UTC(2026, 10, 1)),
      name: 'Api Co',
    });
    const c = account.consumerId;
    const events = [
      makeEvent({ consumerId: c, time: new Date(base), routeId: 'r1', latencyMs: 10, units: 2 }),
      makeEvent({ consumerId: c, time: new Date(base + 60_000), routeId: 'r1', latencyMs: 20, units: 2 }),
      makeEvent({
        consumerId: c,
        time: new Date(base + 3_600_000),
        routeId: 'r2',
        latencyMs: 30,
        status: 500,
      }),
      makeEvent({
        consumerId: c,
        time: new Date(base + 86_400_000),
        routeId: 'r2',
        latencyMs: 40,
        status: 429,
        billable: false,
      }),
      makeEvent({
        consumerId: c,
        time: new Date(base + 86_400_000 + 5),
        routeId: 'r1',
        keyId: null,
        latencyMs: 50,
        units: 10,
      }),
      makeEvent({ consumerId: 'someone-else', time: new Date(base), units: 100 }),
    ];
    const rows = events.map((e) => {
      const r = toUsageEventRow(e, new Date());
      if (!r.ok) throw new Error(r.reason);
      return r.row;
    });
    // Every event twice, the second copy ingested later: the API must count each once.
    await store.runner.insert('usage_events_v1', rows);
    await store.runner.insert(
      'usage_events_v1',
      rows.map((r) => ({ ...r, ingested_at: clickhouseDateTime(new Date(Date.now() + 5000)) })),
    );
    app = testApp(createUsageStore(store.runner), db.prisma, () => new Date(Date.UTC(2026, 10, 21, 12)));
  });
  afterAll(async () => {
    await app.close();
    await store.close();
    await Promise.all([quietly('drop ClickHouse database', () => ch.drop()), db.drop()]);
  });

  const get = (url: string) => app.inject({ url, headers: auth });

  describe('usage-api.happy', () => {
    it('totals count each event once', async () => {
      const res = await get(`/v1/usage/totals?consumerId=${account.consumerId}&${range}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        consumerId: account.consumerId,
        from: '2026-11-20T00:00:00.000Z',
        to: '2026-11-22T00:00:00.000Z',
        requests: 5,
        billableUnits: 15,
        errors: 2,
      });
    });

    it('timeseries by hour, day and month, grouped by route, key or status', async () => {
      const day = await get(`/v1/usage/timeseries?consumerId=${account.consumerId}&${range}&granularity=day`);
      expect(day.json()).toEqual({
        consumerId: account.consumerId,
        granularity: 'day',
        groupBy: null,
        points: [
          { bucket: '2026-11-20T00:00:00.000Z', group: null, requests: 3, billableUnits: 5, errors: 1 },
          { bucket: '2026-11-21T00:00:00.000Z', group: null, requests: 2, billableUnits: 10, errors: 1 },
        ],
      });
      const hour = await get(
        `/v1/usage/timeseries?consumerId=${account.consumerId}&${range}&granularity=hour&groupBy=route`,
      );
      expect((hour.json() as { points: unknown[] }).points).toEqual([
        { bucket: '2026-11-20T10:00:00.000Z', group: 'r1', requests: 2, billableUnits: 4, errors: 0 },
        { bucket: '2026-11-20T11:00:00.000Z', group: 'r2', requests: 1, billableUnits: 1, errors: 1 },
        { bucket: '2026-11-21T10:00:00.000Z', group: 'r1', requests: 1, billableUnits: 10, errors: 0 },
        { bucket: '2026-11-21T10:00:00.000Z', group: 'r2', requests: 1, billableUnits: 0, errors: 1 },
      ]);
      const month = await get(
        `/v1/usage/timeseries?consumerId=${account.consumerId}&${range}&granularity=month&groupBy=status`,
      );
      expect((month.json() as { points: unknown[] }).points).toEqual([
        { bucket: '2026-11-01T00:00:00.000Z', group: '200', requests: 3, billableUnits: 14, errors: 0 },
        { bucket: '2026-11-01T00:00:00.000Z', group: '429', requests: 1, billableUnits: 0, errors: 1 },
        { bucket: '2026-11-01T00:00:00.000Z', group: '500', requests: 1, billableUnits: 1, errors: 1 },
      ]);
      const key = await get(
        `/v1/usage/timeseries?consumerId=${account.consumerId}&${range}&granularity=month&groupBy=key`,
      );
      expect((key.json() as { points: { group: string }[] }).points.map((p) => p.group)).toEqual([
        '',
        'key-1',
      ]);
    });

    it('rollup series for dashboards are approximate: the redelivered copies count again', async () => {
      const res = await get(`/v1/usage/rollup?consumerId=${account.consumerId}&${range}&granularity=day`);
      expect(res.statusCode).toBe(200);
      // Every event was inserted twice (see beforeAll): exactly double the exact day series.
      expect(res.json()).toEqual({
        consumerId: account.consumerId,
        granularity: 'day',
        groupBy: null,
        approximate: true,
        points: [
          { bucket: '2026-11-20T00:00:00.000Z', group: null, requests: 6, billableUnits: 10, errors: 2 },
          { bucket: '2026-11-21T00:00:00.000Z', group: null, requests: 4, billableUnits: 20, errors: 2 },
        ],
      });
      const byRoute = await get(
        `/v1/usage/rollup?consumerId=${account.consumerId}&${range}&granularity=month&groupBy=route`,
      );
      expect((byRoute.json() as { points: unknown[] }).points).toEqual([
        { bucket: '2026-11-01T00:00:00.000Z', group: 'r1', requests: 6, billableUnits: 28, errors: 0 },
        { bucket: '2026-11-01T00:00:00.000Z', group: 'r2', requests: 4, billableUnits: 2, errors: 4 },
      ]);
      const noKey = await get(`/v1/usage/rollup?consumerId=x&${range}&granularity=day&groupBy=key`);
      expect(noKey.statusCode).toBe(400);
    });

    it('latency percentiles per route', async () => {
      const res = await get(`/v1/usage/latency?consumerId=${account.consumerId}&${range}`);
      expect(res.json()).toMatchObject({
        routes: [
          { apiId: 'api-1', routeId: 'r1', requests: 3, p50: 20, p95: 50, p99: 50 },
          { apiId: 'api-1', routeId: 'r2', requests: 2, p50: 40, p95: 40, p99: 40 },
        ],
      });
    });

    it('quota usage of the current period from the subscription and exact units', async () => {
      const res = await get(`/v1/usage/quota?consumerId=${account.consumerId}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        consumerId: account.consumerId,
        subscriptionId: account.subscriptionId,
        plan: account.planSlug,
        periodStart: '2026-11-01T00:00:00.000Z',
        periodEnd: '2026-12-01T00:00:00.000Z',
        quota: 40,
        used: 15,
        remaining: 25,
        percent: 37.5,
      });
    });

    it('serves an OpenAPI 3.1 document with every path', async () => {
      const res = await app.inject({ url: '/openapi.json' });
      const doc = res.json() as {
        openapi: string;
        paths: Record<string, { get: { parameters?: { name: string }[] } }>;
      };
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths).sort()).toEqual(
        [
          '/healthz',
          '/readyz',
          '/v1/alerts',
          '/v1/reports/finance',
          '/v1/usage/latency',
          '/v1/usage/quota',
          '/v1/usage/rollup',
          '/v1/usage/timeseries',
          '/v1/usage/totals',
        ].sort(),
      );
      expect(doc.paths['/v1/usage/timeseries']!.get.parameters!.map((p) => p.name).sort()).toEqual(
        ['consumerId', 'from', 'granularity', 'groupBy', 'to'].sort(),
      );
    });

    it('healthz and readyz', async () => {
      expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/readyz' })).json()).toEqual({
        status: 'ready',
        clickhouse: true,
        postgres: true,
      });
    });
  });

  describe('usage-api.error', () => {
    it('reports every invalid parameter at once as problem+json', async () => {
      const res = await get(
        '/v1/usage/timeseries?consumerId=&from=yesterday&granularity=week&groupBy=colour',
      );
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const body = res.json() as { code: string; errors: { path: string }[]; requestId: string };
      expect(body.code).toBe('INVALID_QUERY');
      expect(body.requestId).toBeTruthy();
      expect(body.errors.map((e) => e.path).sort()).toEqual([
        'consumerId',
        'from',
        'granularity',
        'groupBy',
        'to',
      ]);
    });

    it('rejects a range that ends before it starts', async () => {
      const res = await get(
        `/v1/usage/totals?consumerId=x&from=2026-11-22T00:00:00Z&to=2026-11-20T00:00:00Z`,
      );
      expect(res.statusCode).toBe(400);
      expect((res.json() as { errors: { path: string; message: string }[] }).errors).toEqual([
        { path: 'to', message: 'must be after from' },
      ]);
    });

    it('quota of a consumer without a subscription is a 404 problem', async () => {
      const res = await get('/v1/usage/quota?consumerId=00000000-0000-4000-8000-000000000000');
      expect(res.statusCode).toBe(404);
      expect((res.json() as { code: string }).code).toBe('NO_SUBSCRIPTION');
    });
  });

  describe('usage-api.security', () => {
    it('requires the service token on every /v1 route', async () => {
      for (const path of ['/v1/usage/totals', '/v1/reports/finance', '/v1/alerts', '/v1/usage/quota']) {
        const none = await app.inject({ url: path });
        expect(none.statusCode).toBe(401);
        expect(none.headers['www-authenticate']).toBe('Bearer');
        const wrong = await app.inject({ url: path, headers: { authorization: `Bearer ${SERVICE_TOKEN}x` } });
        expect(wrong.statusCode).toBe(401);
      }
    });

    it('an encoded path reaching a /v1 route still needs the token', async () => {
      for (const url of [
        `/%761/usage/totals?consumerId=x&${range}`,
        `/v1/usage/%74otals?consumerId=x&${range}`,
      ]) {
        const res = await app.inject({ url });
        expect(res.statusCode, url).toBe(401);
      }
    });

    it('values that try to break out of their SQL literal are just values', async () => {
      const hostile = encodeURIComponent("x' OR 1=1 OR consumer_id != '");
      const res = await get(`/v1/usage/totals?consumerId=${hostile}&${range}`);
      expect(res.statusCode).toBe(200);
      expect((res.json() as { requests: number }).requests).toBe(0);
      const backslash = encodeURIComponent("x\\' OR 1=1 --");
      expect(
        ((await get(`/v1/usage/totals?consumerId=${backslash}&${range}`)).json() as { requests: number })
          .requests,
      ).toBe(0);
    });
  });
});
