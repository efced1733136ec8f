import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey } from '@tollgate/core';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../infra/testing/stack.ts';
import {
  type ChildService,
  freePorts,
  gatewayTestEnv,
  startApp,
  startPrivateRedis,
  waitUntil,
} from './support/app-process.ts';

/**
 * Issue 10, items 8 and 11, with real processes: billing (against stripe-mock, paying on its
 * local test checkout) and the gateway (its quota in a private Redis) on one fresh database.
 * - A plan change keeps the period's consumed quota: Pro, downgrade to Free, check out Pro
 *   again, all within one period, and the gateway's counter is the same one throughout.
 * - The quota is the consumer's: its two API keys share it, although the plans rate each key
 *   on its own (limitScope 'key').
 */
const stack = sharedStackEnv();
const FREE_QUOTA = 5;
const PRO_QUOTA = 12;

describe('plan changes keep the period quota (billing + gateway processes)', () => {
  let db: TestDatabase;
  let echo: Server;
  let redis: (ChildService & { url: string }) | undefined;
  const apps: ChildService[] = [];
  let tempDir: string;
  let gatewayUrl: string;
  let billingUrl: string;
  const token = randomBytes(24).toString('hex');
  let consumerId: string;
  let freeId: string;
  let proId: string;
  const keys: string[] = [];

  interface Answer {
    status: number;
    code: string | null;
    remaining: number;
    plan: string | null;
  }

  /** One request; `/q/peek` costs 0 units, so looking changes nothing. */
  const call = async (path: string, key: string): Promise<Answer> => {
    const res = await fetch(`${gatewayUrl}/q/${path}`, {
      headers: { 'x-api-key': key },
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { code?: string; plan?: string };
    return {
      status: res.status,
      code: res.status === 200 ? null : (body.code ?? null),
      remaining: Number(res.headers.get('x-ratelimit-remaining')),
      plan: res.status === 200 ? (body.plan ?? null) : null,
    };
  };

  const logs = () => apps.map((a) => `--- ${a.name} ---\n${a.output().slice(-3000)}`).join('\n');

  /**
   * Waits until the gateway applies `slug` to the consumer (its snapshot followed billing's write).
   * Deliberately no more: a checkout is two webhook commits (checkout.session.completed with
   * billing's first anchor, then customer.subscription.created with Stripe's whole-second one),
   * and requests between them must count in the same period as the ones after (the quota counter
   * is named by the day its period starts on). On code that keyed it by the exact start, this
   * test failed 3 runs in 5.
   */
  const planApplied = (slug: string) =>
    waitUntil(
      async () => (await call('peek', keys[0]!)).plan === slug,
      15_000,
      `the gateway to apply ${slug}`,
      100,
    );

  const billingPost = async (path: string, body: unknown) => {
    const res = await fetch(`${billingUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    expect(res.status, `${path}: ${JSON.stringify(json)}\n${logs()}`).toBe(200);
    return json;
  };

  /** Checkout on billing, then Pay on its local test checkout page (signed webhooks follow). */
  const checkout = async (planId: string) => {
    const session = (await billingPost('/v1/checkout-sessions', {
      consumerId,
      planId,
      successUrl: 'http://localhost:3000/ok',
      cancelUrl: 'http://localhost:3000/no',
    })) as { id: string };
    const pay = await fetch(`${billingUrl}/checkout/local/${session.id}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
      redirect: 'manual',
    });
    expect(pay.status, logs()).toBe(303);
  };

  beforeAll(async () => {
    tempDir = mkdtempSync(join(tmpdir(), 'tg-plan-change-'));
    db = await createTestDatabase();
    redis = await startPrivateRedis();
    echo = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url, plan: req.headers['x-tollgate-plan'] ?? null }));
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;

    const api = await db.prisma.api.create({
      data: {
        name: 'Quota API',
        slug: 'quota',
        basePath: '/q',
        targets: { create: [{ url: echoUrl }] },
        routes: {
          create: [
            { name: 'all', methods: [], path: '/', cost: 1, timeoutMs: 5000 },
            { name: 'peek', methods: ['GET'], path: '/peek', cost: 0, timeoutMs: 5000 },
          ],
        },
      },
    });
    const plan = (slug: string, quota: number, priceCents: number) =>
      db.prisma.plan.create({
        data: {
          slug,
          name: slug,
          quota,
          quotaPeriod: 'month',
          priceCents,
          capMode: 'hard',
          // each key has its own bucket; the quota stays the consumer's
          limitScope: 'key',
          rateLimitPerSecond: 100,
          burst: 100,
          entitlements: { create: [{ apiId: api.id }] },
        },
      });
    freeId = (await plan('free', FREE_QUOTA, 0)).id;
    proId = (await plan('pro', PRO_QUOTA, 1500)).id;
    consumerId = (await db.prisma.consumer.create({ data: { name: 'Plan Change Co' } })).id;
    for (const name of ['first key', 'second key']) {
      const key = generateApiKey('live');
      await db.prisma.apiKey.create({
        data: { consumerId, name, prefix: key.prefix, hash: key.hash, lastFour: key.lastFour },
      });
      keys.push(key.key);
    }

    const [gatewayPort, adminPort, billingPort] = (await freePorts(3)) as [number, number, number];
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    billingUrl = `http://127.0.0.1:${billingPort}`;
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
            name: 'plan-change',
            spoolDir: join(tempDir, 'gateway-spool'),
          },
          {
            GATEWAY_CONFIG_RESYNC_MS: '2000',
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
          STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('hex')}`,
          BILLING_SERVICE_TOKEN: token,
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
  }, 180_000);

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await redis?.stop(2000);
    if (echo !== undefined) await new Promise((r) => echo.close(r));
    await db?.drop();
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  }, 60_000);

  it('Pro → Free → Pro within one period keeps the units used; both keys draw on one quota', async () => {
    await checkout(proId);
    await planApplied('pro');
    // four units, alternating keys: one counter for the consumer
    const used = [];
    for (let i = 0; i < 4; i++) used.push(await call('x', keys[i % 2]!));
    expect(used.map((a) => [a.status, a.remaining])).toEqual([
      [200, PRO_QUOTA - 1],
      [200, PRO_QUOTA - 2],
      [200, PRO_QUOTA - 3],
      [200, PRO_QUOTA - 4],
    ]);

    // Downgrade: the Free row continues the period, so the 4 units count against Free's 5.
    expect((await billingPost('/v1/subscriptions/change', { consumerId, planId: freeId })).mode).toBe(
      'cancel_to_free',
    );
    await planApplied('free');
    expect((await call('peek', keys[1]!)).remaining).toBe(FREE_QUOTA - 4);
    expect((await call('x', keys[1]!)).status).toBe(200);
    for (const key of keys) {
      const refused = await call('x', key);
      expect([refused.status, refused.code], logs()).toEqual([429, 'QUOTA_EXCEEDED']);
    }

    // Check out Pro again in the same period: no fresh quota, the 5 units are still used.
    await checkout(proId);
    await planApplied('pro');
    expect((await call('peek', keys[0]!)).remaining).toBe(PRO_QUOTA - 5);
    expect((await call('x', keys[1]!)).remaining).toBe(PRO_QUOTA - 6);

    const rows = await db.prisma.subscription.findMany({
      where: { consumerId },
      orderBy: { createdAt: 'asc' },
    });
    expect(rows.map((r) => [r.planId, r.status])).toEqual([
      [proId, 'canceled'],
      [freeId, 'canceled'],
      [proId, 'active'],
    ]);
    // one anchor throughout; the new Pro's first (prorated) period ends where the first one did
    expect(new Set(rows.map((r) => r.billingAnchor?.getTime())).size).toBe(1);
    expect(rows[2]!.currentPeriodEnd).toEqual(rows[0]!.currentPeriodEnd);
  });
});
