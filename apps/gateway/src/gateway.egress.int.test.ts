import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../../../infra/testing/stack.ts';
import { type Echo, startEcho } from './testing/fixtures.ts';
import { type GatewayProcess, startGatewayProcess } from './testing/gateway-process.ts';
import { type SeededGateway, seedGateway, waitFor } from './testing/seed.ts';

const stack = sharedStackEnv();

/**
 * The gateway process (main.ts) with GATEWAY_UPSTREAM_ALLOW=127.0.0.1, as the test fixtures and
 * `npm start` run it: an API whose target is re-pointed at the gateway's own admin listener, its
 * proxy listener or the cloud metadata address is refused at connect time, counted, and the
 * snapshot that holds it is applied (every other API keeps working).
 */
describe('gateway.egress (process, Postgres control plane)', () => {
  let db: TestDatabase;
  let echo: Echo;
  let seeded: SeededGateway;
  let other: SeededGateway;
  let gw: GatewayProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    echo = await startEcho();
    seeded = await seedGateway(db.prisma, echo.url, { quota: null });
    other = await seedGateway(db.prisma, echo.url, { quota: null }, 'other');
    gw = await startGatewayProcess({
      DATABASE_URL: db.url,
      REDIS_URL: stack.REDIS_URL!,
      KAFKA_BROKERS: stack.KAFKA_BROKERS!,
      GATEWAY_REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      GATEWAY_USAGE_TOPIC: `tollgate.usage.v2.test-${randomUUID()}`,
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await echo?.close();
    await db?.drop();
  });

  const get = (path: string, key: string) => fetch(`${gw.url}${path}`, { headers: { 'x-api-key': key } });

  /** Re-points the API's target (through the echo, so each change is seen to apply). */
  async function pointTargetAt(url: string): Promise<void> {
    const status = async () => (await get('/svc/x', seeded.key)).status;
    await db.prisma.upstreamTarget.updateMany({ where: { apiId: seeded.apiId }, data: { url: echo.url } });
    await waitFor(async () => (await status()) === 200, 10_000, 'target back on the echo');
    await db.prisma.upstreamTarget.updateMany({ where: { apiId: seeded.apiId }, data: { url } });
    await waitFor(async () => (await status()) === 502, 10_000, `target ${url}`);
  }

  const forbiddenCount = async (reason: string) => {
    const text = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`tollgate_gateway_upstream_forbidden_total{reason="${reason}"}`));
    return Number(line?.split(' ')[1] ?? 0);
  };

  it('the loopback echo is allowed (GATEWAY_UPSTREAM_ALLOW=127.0.0.1)', async () => {
    expect((await get('/svc/x', seeded.key)).status).toBe(200);
  });

  it.each([
    ['its admin listener', () => `http://127.0.0.1:${gw.adminPort}`, 'self'],
    ['its proxy listener (a loop)', () => `http://localhost:${gw.port}`, 'self'],
    ['the cloud metadata service', () => 'http://169.254.169.254', 'internal'],
    ['a private address', () => 'http://10.255.255.1:8123', 'internal'],
  ])(
    'a target pointing at %s answers 502 UPSTREAM_FORBIDDEN; the snapshot applies',
    async (_what, url, reason) => {
      const before = await forbiddenCount(reason);
      await pointTargetAt(url());
      const res = await get('/svc/metrics', seeded.key);
      expect(res.status).toBe(502);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const body = (await res.json()) as { code: string; detail: string };
      expect(body.code).toBe('UPSTREAM_FORBIDDEN');
      expect(body.detail).not.toContain('tollgate_gateway');
      expect(await forbiddenCount(reason)).toBeGreaterThan(before);
      // The same snapshot carries the other API: still served, and the gateway is ready.
      expect((await get('/other/x', other.key)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${gw.adminPort}/readyz`)).status).toBe(200);
    },
  );
});
