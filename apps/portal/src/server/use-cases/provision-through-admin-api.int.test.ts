import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChildService,
  freePorts,
  gatewayTestEnv,
  startApp,
  startPrivateRedis,
  waitUntil,
} from '../../../../../e2e/support/app-process.ts';
import { sharedStackEnv } from '../../../../../infra/testing/stack.ts';
import * as apiRoutesRoute from '../../app/admin/v1/apis/[id]/routes/route.ts';
import * as apiTargetsRoute from '../../app/admin/v1/apis/[id]/targets/route.ts';
import * as apisRoute from '../../app/admin/v1/apis/route.ts';
import * as keyRoute from '../../app/admin/v1/consumers/[id]/keys/[keyId]/route.ts';
import * as keysRoute from '../../app/admin/v1/consumers/[id]/keys/route.ts';
import * as planRoute from '../../app/admin/v1/consumers/[id]/plan/route.ts';
import * as cancelRoute from '../../app/admin/v1/consumers/[id]/subscription/cancel/route.ts';
import * as consumersRoute from '../../app/admin/v1/consumers/route.ts';
import * as plansRoute from '../../app/admin/v1/plans/route.ts';
import { sha256Hex } from '../crypto.ts';
import { provideDeps } from '../deps.ts';

/**
 * Issue 12, end to end: a provider sets up an API, its route and upstream, a private plan, a
 * consumer, its key and its subscription through the admin API alone (the route handlers, in
 * this process), and a call through a real gateway with the issued key is served; revoking the
 * key through the admin API makes the gateway refuse it. Billing (stripe-mock) and the gateway
 * are real processes on one fresh Postgres.
 */

type Handler = (request: Request, context: { params: Promise<Record<string, string>> }) => Promise<Response>;

const stack = sharedStackEnv();
const TOKEN = `prov-${randomBytes(16).toString('hex')}`;
const CONFIG_RESYNC_MS = 2000;

describe('provisioning through the admin API, then the gateway', () => {
  let db: TestDatabase;
  let echo: Server;
  let redis: ChildService & { url: string };
  let tempDir: string;
  const apps: ChildService[] = [];
  let gatewayUrl: string;

  const logs = () => apps.map((a) => `--- ${a.name} ---\n${a.output().slice(-3000)}`).join('\n');

  async function call(
    handler: unknown,
    path: string,
    body?: unknown,
    params: Record<string, string> = {},
    method = body === undefined ? 'GET' : 'POST',
  ) {
    const request = new Request(`http://portal.test${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const res = await (handler as Handler)(request, { params: Promise.resolve(params) });
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : JSON.parse(text) };
  }

  beforeAll(async () => {
    tempDir = mkdtempSync(join(tmpdir(), 'tg-provision-'));
    db = await createTestDatabase();
    redis = await startPrivateRedis();
    echo = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, url: req.url }));
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));

    const [gatewayPort, adminPort, billingPort] = (await freePorts(3)) as [number, number, number];
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const billingUrl = `http://127.0.0.1:${billingPort}`;
    const billingToken = randomBytes(24).toString('hex');
    const started = await Promise.allSettled([
      startApp(
        'gateway',
        gatewayTestEnv(
          {
            databaseUrl: db.url,
            redisUrl: redis.url,
            kafkaBrokers: stack.KAFKA_BROKERS!,
            port: gatewayPort,
            adminPort,
            name: 'provision',
            spoolDir: join(tempDir, 'gateway-spool'),
          },
          {
            GATEWAY_CONFIG_RESYNC_MS: String(CONFIG_RESYNC_MS),
            GATEWAY_SHUTDOWN_GRACE_MS: '3000',
          },
        ),
        `http://127.0.0.1:${adminPort}/readyz`,
      ),
      startApp(
        'billing',
        {
          DATABASE_URL: db.url,
          CLICKHOUSE_URL: stack.CLICKHOUSE_URL!,
          CLICKHOUSE_DATABASE: stack.CLICKHOUSE_DATABASE!,
          STRIPE_API_BASE: stack.STRIPE_API_BASE!,
          STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
          BILLING_SERVICE_TOKEN: billingToken,
          BILLING_HOST: '127.0.0.1',
          BILLING_PORT: String(billingPort),
          BILLING_PUBLIC_URL: billingUrl,
          BILLING_CATALOG_SYNC_ON_START: 'false',
          BILLING_SCHEDULER_ENABLED: 'false',
        },
        `${billingUrl}/healthz`,
      ),
    ]);
    for (const s of started) if (s.status === 'fulfilled') apps.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;

    // The portal reads its config on first use: this database and this billing.
    process.env.DATABASE_URL = db.url;
    process.env.BILLING_URL = billingUrl;
    process.env.BILLING_SERVICE_TOKEN = billingToken;
    provideDeps({ prisma: db.prisma });
    // The one thing not done through the admin API: its first token (the portal's /admin/tokens page).
    await db.prisma.adminToken.create({
      data: { name: 'automation', tokenHash: sha256Hex(TOKEN), prefix: TOKEN.slice(0, 8) },
    });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await redis?.stop(2000);
    if (echo !== undefined) await new Promise((r) => echo.close(r));
    await db?.drop();
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  }, 60_000);

  it('serves a call with the key the admin API issued, and refuses it once revoked', async () => {
    const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    const api = await call(apisRoute.POST, '/admin/v1/apis', {
      name: 'Weather',
      slug: 'weather',
      basePath: '/weather',
    });
    expect(api.status, JSON.stringify(api.body)).toBe(201);
    const target = await call(
      apiTargetsRoute.POST,
      `/admin/v1/apis/${api.body.id}/targets`,
      { url: echoUrl },
      { id: api.body.id },
    );
    expect(target.status, JSON.stringify(target.body)).toBe(201);
    const route = await call(
      apiRoutesRoute.POST,
      `/admin/v1/apis/${api.body.id}/routes`,
      { name: 'all', path: '/', cost: 1 },
      { id: api.body.id },
    );
    expect(route.status, JSON.stringify(route.body)).toBe(201);
    const plan = await call(plansRoute.POST, '/admin/v1/plans', {
      slug: 'enterprise-acme',
      name: 'Acme deal',
      quota: 1000,
      quotaPeriod: 'month',
      priceCents: 0,
      capMode: 'hard',
      visibility: 'private',
      apiIds: [api.body.id],
    });
    expect(plan.status, JSON.stringify(plan.body)).toBe(201);

    const consumer = await call(consumersRoute.POST, '/admin/v1/consumers', {
      name: 'Acme',
      externalId: 'acme-crm-7',
    });
    expect(consumer.status, JSON.stringify(consumer.body)).toBe(201);
    const id = consumer.body.id as string;
    const key = await call(keysRoute.POST, `/admin/v1/consumers/${id}/keys`, { name: 'production' }, { id });
    expect(key.status, JSON.stringify(key.body)).toBe(201);
    const subscribed = await call(
      planRoute.POST,
      `/admin/v1/consumers/${id}/plan`,
      { planId: plan.body.id },
      { id },
    );
    expect(subscribed.status, JSON.stringify(subscribed.body)).toBe(200);
    expect(subscribed.body.subscriptions).toMatchObject([{ planId: plan.body.id, status: 'active' }]);

    const callGateway = async () => {
      const res = await fetch(`${gatewayUrl}/weather/today`, {
        headers: { 'x-api-key': key.body.secret },
        signal: AbortSignal.timeout(5000),
      });
      return { status: res.status, body: await res.text() };
    };
    let last: { status: number; body: string } | null = null;
    await waitUntil(
      async () => {
        last = await callGateway().catch(() => null);
        return last?.status === 200;
      },
      30_000,
      'the gateway to serve the issued key',
      100,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; last answer ${JSON.stringify(last)}\n${logs()}`);
    });
    expect(JSON.parse(last!.body)).toMatchObject({ ok: true, url: '/weather/today' });

    const revoked = await call(
      keyRoute.DELETE,
      `/admin/v1/consumers/${id}/keys/${key.body.id}`,
      undefined,
      {
        id,
        keyId: key.body.id,
      },
      'DELETE',
    );
    expect(revoked.status).toBe(204);
    await waitUntil(
      async () => (await callGateway()).status === 401,
      30_000,
      'the gateway to refuse the revoked key',
      100,
    );

    const canceled = await call(
      cancelRoute.POST,
      `/admin/v1/consumers/${id}/subscription/cancel`,
      {},
      { id },
    );
    expect(canceled.status, JSON.stringify(canceled.body)).toBe(200);
    expect(canceled.body.subscriptions).toMatchObject([{ planId: plan.body.id, status: 'canceled' }]);
    const none = await call(cancelRoute.POST, `/admin/v1/consumers/${id}/subscription/cancel`, {}, { id });
    expect([none.status, none.body.code]).toEqual([404, 'NO_SUBSCRIPTION']);
  }, 120_000);
});
