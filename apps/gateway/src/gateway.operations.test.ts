import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildAdminApp } from './app.ts';
import { HealthChecker } from './proxy/health-checker.ts';
import {
  buildTestGateway,
  type Echo,
  fixtureSnapshot,
  IDS,
  StaticSource,
  startEcho,
} from './testing/fixtures.ts';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function echoServer(): Promise<Echo> {
  const e = await startEcho();
  opened.push(e);
  return e;
}

describe('gateway.control-plane', () => {
  it('keeps serving from the last snapshot while the source is down, and quarantines a broken API alone (metric)', async () => {
    const echo = await echoServer();
    const source = new StaticSource(fixtureSnapshot(echo.url));
    const { key } = source.addKey(IDS.consumer);
    const gw = await buildTestGateway(source);
    opened.push(gw);
    const get = () => gw.app.inject({ method: 'GET', url: '/echo/x', headers: { 'x-api-key': key } });

    source.failLoads = true;
    await gw.controlPlane.refresh();
    expect((await get()).statusCode).toBe(200);
    expect(
      await gw.metrics.registry.getSingleMetricAsString('tollgate_gateway_config_load_errors_total'),
    ).toMatch(/ 1$/m);
    source.failLoads = false;

    source.snapshot.apis[0]!.targets[0]!.url = 'not a url';
    source.notify('upstream_targets');
    await new Promise((r) => setTimeout(r, 50));
    await gw.controlPlane.refresh();
    // The API keeps its last good version; the row is quarantined, counted once however often it is reloaded.
    expect(gw.controlPlane.current!.quarantine).toEqual([
      expect.objectContaining({ kind: 'api', id: IDS.api, servingLastGood: true }),
    ]);
    expect((await get()).statusCode).toBe(200);
    await gw.controlPlane.refresh();
    expect(
      await gw.metrics.registry.getSingleMetricAsString('tollgate_gateway_config_quarantined_total'),
    ).toMatch(/kind="api"} 1$/m);
    // Every other change still applies: a suspension.
    source.snapshot.consumers[0]!.status = 'suspended';
    await gw.controlPlane.refresh();
    expect((await get()).statusCode).toBe(403);
    source.snapshot.consumers[0]!.status = 'active';

    // A valid change is applied.
    source.snapshot.apis[0]!.targets[0]!.url = echo.url;
    source.snapshot.apis[0]!.routes[0]!.cost = 7;
    await gw.controlPlane.refresh();
    expect((await get()).headers['x-ratelimit-remaining']).toBe(String(1000 - 1 - 1 - 7));
  });
});

describe('gateway.health', () => {
  it('active health checks take a failing target out and bring it back', async () => {
    const a = await echoServer();
    const b = await echoServer();
    const raw = fixtureSnapshot([a.url, b.url]);
    raw.apis[0]!.targets[0]!.healthCheckPath = '/status/503';
    raw.apis[0]!.targets[1]!.healthCheckPath = '/health';
    const source = new StaticSource(raw);
    const { key } = source.addKey(IDS.consumer);
    const gw = await buildTestGateway(source);
    opened.push(gw);
    const checker = new HealthChecker(gw.registry, { intervalMs: 60_000, timeoutMs: 500 });
    await checker.runOnce();
    const targets = [...gw.registry.all()];
    expect(targets.find((t) => t.origin === a.url)!.activeDown).toBe(true);
    expect(targets.find((t) => t.origin === b.url)!.activeDown).toBe(false);
    const before = a.requests.length;
    for (let i = 0; i < 6; i++) {
      expect(
        (await gw.app.inject({ method: 'GET', url: '/echo/x', headers: { 'x-api-key': key } })).statusCode,
      ).toBe(200);
    }
    expect(a.requests.length).toBe(before);
    targets.find((t) => t.origin === a.url)!.healthCheckPath = '/health';
    await checker.runOnce();
    expect(targets.find((t) => t.origin === a.url)!.activeDown).toBe(false);
  });

  it('the admin app answers /healthz, /readyz (snapshot and sink) and /metrics', async () => {
    const echo = await echoServer();
    const source = new StaticSource(fixtureSnapshot(echo.url));
    const gw = await buildTestGateway(source);
    opened.push(gw);
    let sinkOk = true;
    const admin = buildAdminApp({
      controlPlane: gw.controlPlane,
      metrics: gw.metrics,
      logger: pino({ level: 'silent' }),
      sinkHealth: { healthy: () => sinkOk },
      isShuttingDown: () => false,
    });
    opened.push(admin);
    expect((await admin.inject({ url: '/healthz' })).statusCode).toBe(200);
    const ready = await admin.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().config).toEqual({ version: null, quarantined: [], probation: [] });
    sinkOk = false;
    expect((await admin.inject({ url: '/readyz' })).statusCode).toBe(503);
    await gw.app.inject({ method: 'GET', url: '/echo/public' });
    const metrics = await admin.inject({ url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('tollgate_gateway_requests_total{route="echo:public",status="2xx"} 1');
    expect(metrics.body).toContain('tollgate_gateway_request_duration_seconds_bucket');
  });
});
