import type { MemoryUsageSink } from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestGateway,
  type Echo,
  fixtureSnapshot,
  IDS,
  StaticSource,
  startEcho,
  type TestGateway,
} from './testing/fixtures.ts';

const metric = async (gw: TestGateway, name: string, labels: string) =>
  (await gw.metrics.registry.metrics())
    .split('\n')
    .find((l) => l.startsWith(`${name}{${labels}}`))
    ?.split(' ')[1];

describe('gateway.egress.security', () => {
  let echo: Echo;

  beforeAll(async () => {
    echo = await startEcho();
  });
  afterAll(async () => {
    await echo.close();
  });

  it('an upstream on loopback that is not allowed gets 502 UPSTREAM_FORBIDDEN, not counted, and no connection', async () => {
    const source = new StaticSource(fixtureSnapshot(echo.url));
    const { key } = source.addKey(IDS.consumer);
    const gw = await buildTestGateway(source, { upstreamAllow: [] });
    try {
      const before = echo.requests.length;
      for (const [url, headers] of [
        ['/echo/x', { 'x-api-key': key }],
        ['/echo/public/x', {}],
      ] as const) {
        const res = await gw.app.inject({ method: 'GET', url, headers });
        expect(res.statusCode, url).toBe(502);
        expect(res.headers['content-type']).toBe('application/problem+json');
        expect(res.json()).toMatchObject({ status: 502, code: 'UPSTREAM_FORBIDDEN' });
      }
      expect(echo.requests.length).toBe(before);
      const events = (gw.sink as MemoryUsageSink).events;
      expect(events.map((e) => [e.data.status, e.data.billable])).toEqual([[502, false]]);
      // Refunded: this request's own unit is taken (1000 - 1), the first one's was given back.
      const res = await gw.app.inject({ method: 'GET', url: '/echo/x', headers: { 'x-api-key': key } });
      expect(res.headers['x-ratelimit-remaining']).toBe('999');
      expect(Number(await metric(gw, 'tollgate_gateway_upstream_forbidden_total', 'reason="internal"'))).toBe(
        3,
      );
      expect(await metric(gw, 'tollgate_gateway_upstream_errors_total', 'kind="forbidden"')).toBe('3');
      // The target is not taken out as unhealthy: its answer keeps saying why.
      expect(gw.registry.all().next().value!.isAvailable(Date.now())).toBe(true);
    } finally {
      await gw.close();
    }
  });

  it('a snapshot with an internal target is applied: that API answers 502, the others keep working', async () => {
    const raw = fixtureSnapshot(echo.url);
    const metadata = structuredClone(raw.apis[0]!);
    metadata.id = '00000000-0000-4000-8000-00000000aa02';
    metadata.slug = 'metadata';
    metadata.basePath = '/meta';
    metadata.targets = [{ id: 'm', url: 'http://169.254.169.254/latest', weight: 1, healthCheckPath: null }];
    metadata.routes = metadata.routes.map((r, i) => ({
      ...r,
      id: `00000000-0000-4000-8000-0000000bb0${i}0`,
    }));
    raw.apis.push(metadata);
    raw.plans[0]!.entitlements.push({ apiId: metadata.id, routeId: null });
    const source = new StaticSource(raw);
    const { key } = source.addKey(IDS.consumer);
    const gw = await buildTestGateway(source, { upstreamAllow: [`127.0.0.1:${echo.port}`] });
    try {
      expect(gw.controlPlane.current!.routes.length).toBe(raw.apis[0]!.routes.length * 2);
      expect(await metric(gw, 'tollgate_gateway_config_snapshots_refused_total', '')).toBeUndefined();
      const meta = await gw.app.inject({
        method: 'GET',
        url: '/meta/iam/security-credentials/',
        headers: { 'x-api-key': key },
      });
      expect(meta.statusCode).toBe(502);
      expect(meta.json().code).toBe('UPSTREAM_FORBIDDEN');
      const ok = await gw.app.inject({ method: 'GET', url: '/echo/x', headers: { 'x-api-key': key } });
      expect(ok.statusCode).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it("the gateway's own listener is refused even on an allowed address", async () => {
    const source = new StaticSource(fixtureSnapshot(echo.url));
    const { key } = source.addKey(IDS.consumer);
    const gw = await buildTestGateway(source, { upstreamAllow: ['127.0.0.0/8'] });
    try {
      // As main.ts does with its listeners' ports; here the echo's port stands in for one
      // (gateway.egress.int.test.ts points a target at a real gateway's own listeners).
      gw.egress.denySelfPort(echo.port);
      const res = await gw.app.inject({ method: 'GET', url: '/echo/x', headers: { 'x-api-key': key } });
      expect(res.statusCode).toBe(502);
      expect(await metric(gw, 'tollgate_gateway_upstream_forbidden_total', 'reason="self"')).toBe('1');
    } finally {
      await gw.close();
    }
  });
});
