import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey } from '@tollgate/core';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { signWebhookPayload } from '@tollgate/stripe';
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
 * Issue 5 acceptance, end to end with real processes: a failed payment suspends the consumer and
 * the gateway answers 403 within the documented bound; a paid invoice reinstates it.
 *
 * Billing and the gateway run as separate processes (`tsx apps/<app>/src/main.ts`) on one fresh
 * Postgres database; the only link between them is Postgres (billing writes, the gateway follows
 * through LISTEN/NOTIFY plus a periodic resync). Stripe events are signed like Stripe's own.
 */

const GRACE_PERIOD_S = 6;
const GRACE_CHECK_INTERVAL_S = 1;
const CONFIG_RESYNC_MS = 2000;
/**
 * The documented bound from the end of the grace period to a 403, computed from the config passed
 * below: billing's grace job runs every BILLING_GRACE_CHECK_INTERVAL_SECONDS and suspends the
 * consumer; the gateway learns of it through NOTIFY (immediate) or, if a notification is missed,
 * at the next full resync (GATEWAY_CONFIG_RESYNC_MS). 1000 ms + 2000 ms = 3000 ms.
 * A paid invoice takes effect at once in billing, so reinstatement is held to the same bound.
 */
const BOUND_MS = GRACE_CHECK_INTERVAL_S * 1000 + CONFIG_RESYNC_MS;
const POLL_MS = 100;

const stack = sharedStackEnv();

/** Run-length summary of a series of answers, for failure messages: `200×12, 403 NO_ACTIVE_SUBSCRIPTION×3`. */
const summary = (answers: Answer[]): string => {
  const runs: { label: string; n: number }[] = [];
  for (const a of answers) {
    const label = a.code === null ? String(a.status) : `${a.status} ${a.code}`;
    const last = runs.at(-1);
    if (last?.label === label) last.n++;
    else runs.push({ label, n: 1 });
  }
  return runs.map((r) => `${r.label}×${r.n}`).join(', ');
};

interface Answer {
  status: number;
  code: string | null;
  /** When the answer was received (Date.now()). */
  at: number;
}

describe('billing → gateway suspension (real processes)', () => {
  let db: TestDatabase;
  let echo: Server;
  let redis: (ChildService & { url: string }) | undefined;
  const apps: ChildService[] = [];
  let tempDir: string;
  let gatewayUrl: string;
  let gatewayAdminUrl: string;
  let billingUrl: string;
  let apiKey: string;
  let consumerId: string;
  let subscriptionId: string;
  const webhookSecret = `whsec_${randomBytes(24).toString('hex')}`;
  const stripeCustomerId = `cus_susp_${randomBytes(6).toString('hex')}`;
  const stripeSubscriptionId = `sub_susp_${randomBytes(6).toString('hex')}`;

  const callGateway = async (): Promise<Answer> => {
    const res = await fetch(`${gatewayUrl}/metered/things`, {
      headers: { 'x-api-key': apiKey },
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    let code: string | null = null;
    if (res.status !== 200) {
      try {
        code = (JSON.parse(text) as { code?: string }).code ?? null;
      } catch {
        code = null;
      }
    }
    return { status: res.status, code, at: Date.now() };
  };

  const snapshotsApplied = async (): Promise<number> => {
    const text = await (await fetch(`${gatewayAdminUrl}/metrics`)).text();
    const m = /^tollgate_gateway_config_snapshots_applied_total(?:\{[^}]*\})? (\d+)/m.exec(text);
    if (m === null) throw new Error('tollgate_gateway_config_snapshots_applied_total not in /metrics');
    return Number(m[1]);
  };

  const invoiceEvent = (type: string, id = `evt_susp_${randomUUID()}`) =>
    JSON.stringify({
      id,
      object: 'event',
      type,
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      data: {
        object: {
          id: `in_susp_${randomBytes(6).toString('hex')}`,
          object: 'invoice',
          customer: stripeCustomerId,
          currency: 'usd',
          total: 4900,
          amount_due: 4900,
          parent: {
            type: 'subscription_details',
            subscription_details: { subscription: stripeSubscriptionId },
          },
        },
      },
    });

  /** POSTs a Stripe event signed now with the webhook secret; returns billing's outcome. */
  const postWebhook = async (payload: string): Promise<string> => {
    const res = await fetch(`${billingUrl}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signWebhookPayload(payload, webhookSecret),
      },
      body: payload,
    });
    const body = (await res.json()) as { outcome?: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return String(body.outcome);
  };

  /** Calls the gateway every POLL_MS until `done` holds for an answer (or `timeoutMs`); returns every answer. */
  const pollGateway = async (done: (a: Answer) => boolean, timeoutMs: number): Promise<Answer[]> => {
    const answers: Answer[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const tick = Date.now();
      const a = await callGateway();
      answers.push(a);
      if (done(a) || Date.now() > deadline) return answers;
      await new Promise((r) => setTimeout(r, Math.max(0, POLL_MS - (Date.now() - tick))));
    }
  };

  const logs = () => apps.map((a) => `--- ${a.name} ---\n${a.output().slice(-3000)}`).join('\n');

  beforeAll(async () => {
    tempDir = mkdtempSync(join(tmpdir(), 'tg-suspension-'));
    db = await createTestDatabase();
    // A private Redis for the gateway's limiter: the shared one was found stopped while this test
    // was written, and the limiter is not what is tested here.
    redis = await startPrivateRedis();

    echo = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, url: req.url }));
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;

    // Seed: an API routed to the echo upstream, a paid plan entitled to it, a Stripe customer with
    // an active Stripe subscription, and an API key.
    const slug = `metered-${randomBytes(3).toString('hex')}`;
    const api = await db.prisma.api.create({
      data: {
        name: 'Metered API',
        slug,
        basePath: '/metered',
        targets: { create: [{ url: echoUrl }] },
        routes: { create: [{ name: 'all', methods: [], path: '/', cost: 1, timeoutMs: 5000 }] },
      },
    });
    const plan = await db.prisma.plan.create({
      data: {
        slug: `starter-${slug}`,
        name: 'Starter',
        quota: 1_000_000,
        quotaPeriod: 'month',
        priceCents: 4900,
        capMode: 'hard',
        stripeFlatPriceId: `price_susp_${randomBytes(6).toString('hex')}`,
        entitlements: { create: [{ apiId: api.id }] },
      },
    });
    const consumer = await db.prisma.consumer.create({
      data: { name: 'Suspension Co', stripeCustomerId },
    });
    consumerId = consumer.id;
    const now = Date.now();
    const sub = await db.prisma.subscription.create({
      data: {
        consumerId,
        planId: plan.id,
        status: 'active',
        currentPeriodStart: new Date(now - 86_400_000),
        currentPeriodEnd: new Date(now + 29 * 86_400_000),
        stripeCustomerId,
        stripeSubscriptionId,
      },
    });
    subscriptionId = sub.id;
    const key = generateApiKey('live');
    await db.prisma.apiKey.create({
      data: {
        consumerId,
        name: 'suspension key',
        prefix: key.prefix,
        hash: key.hash,
        lastFour: key.lastFour,
      },
    });
    apiKey = key.key;

    const [gatewayPort, adminPort, billingPort] = (await freePorts(3)) as [number, number, number];
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    gatewayAdminUrl = `http://127.0.0.1:${adminPort}`;
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
            name: 'suspension',
            spoolDir: join(tempDir, 'gateway-spool'),
          },
          {
            GATEWAY_CONFIG_RESYNC_MS: String(CONFIG_RESYNC_MS),
            GATEWAY_SHUTDOWN_GRACE_MS: '3000',
          },
        ),
        `${gatewayAdminUrl}/readyz`,
      ),
      startApp(
        'billing',
        {
          DATABASE_URL: db.url,
          CLICKHOUSE_URL: stack.CLICKHOUSE_URL!,
          CLICKHOUSE_DATABASE: stack.CLICKHOUSE_DATABASE!,
          STRIPE_API_BASE: stack.STRIPE_API_BASE!,
          STRIPE_WEBHOOK_SECRET: webhookSecret,
          BILLING_SERVICE_TOKEN: randomBytes(24).toString('hex'),
          BILLING_HOST: '127.0.0.1',
          BILLING_PORT: String(billingPort),
          BILLING_PUBLIC_URL: billingUrl,
          BILLING_CATALOG_SYNC_ON_START: 'false',
          BILLING_GRACE_PERIOD_SECONDS: String(GRACE_PERIOD_S),
          BILLING_GRACE_CHECK_INTERVAL_SECONDS: String(GRACE_CHECK_INTERVAL_S),
        },
        `${billingUrl}/healthz`,
      ),
    ]);
    for (const s of started) if (s.status === 'fulfilled') apps.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;

    // The gateway admits the key before anything else happens.
    await waitUntil(
      async () => (await callGateway().catch(() => null))?.status === 200,
      30_000,
      'the gateway to answer 200 for the key',
      100,
    );
  }, 180_000);

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await redis?.stop(2000);
    if (echo !== undefined) await new Promise((r) => echo.close(r));
    await db?.drop();
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  }, 60_000);

  it('a failed payment suspends the consumer and the gateway answers 403 within the documented bound; a paid invoice reinstates it; a replayed failure changes nothing', async () => {
    // 1. invoice.payment_failed: past_due with a grace deadline.
    const failedPayload = invoiceEvent('invoice.payment_failed');
    expect(await postWebhook(failedPayload)).toBe('processed');
    const afterFailure = await snapshotsApplied();
    const pastDue = await db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionId } });
    expect(pastDue.status).toBe('past_due');
    expect(pastDue.graceUntil).not.toBeNull();
    const graceEnd = pastDue.graceUntil!.getTime();

    // 2. During the grace period the gateway keeps answering 200 (past_due within grace counts as
    // active). To be sure it is judging the past_due state, wait until two snapshot loads finished
    // after the webhook was acknowledged: loads never overlap, so the second one started after
    // billing's commit. Only answers received before the grace deadline are judged.
    await waitUntil(async () => (await snapshotsApplied()) >= afterFailure + 2, 10_000, 'two snapshot loads');
    const seenPastDueAt = Date.now();
    expect(
      seenPastDueAt,
      'the gateway must load the past_due state well within the grace period',
    ).toBeLessThan(graceEnd - 500);
    const duringGrace = await pollGateway(() => Date.now() >= graceEnd - POLL_MS, GRACE_PERIOD_S * 1000);
    const judged = duringGrace.filter((a) => a.at < graceEnd);
    console.log(
      `grace: past_due state loaded ${graceEnd - seenPastDueAt} ms before the deadline; ` +
        `${judged.length} answers judged inside the grace period`,
    );
    expect(judged.length).toBeGreaterThan(0);
    expect(judged.filter((a) => a.status !== 200)).toEqual([]);

    // 3. After the grace deadline: 403 within the bound, and the consumer suspended (billing's
    // grace job → consumers.status → NOTIFY → gateway answers CONSUMER_SUSPENDED) within it too.
    await new Promise((r) => setTimeout(r, Math.max(0, graceEnd - Date.now())));
    const afterGrace = await pollGateway((a) => a.code === 'CONSUMER_SUSPENDED', BOUND_MS + 15_000);
    const first403 = afterGrace.find((a) => a.status === 403);
    const suspendedAnswer = afterGrace.find((a) => a.code === 'CONSUMER_SUSPENDED');
    const forbiddenDelay = first403 === undefined ? Number.NaN : first403.at - graceEnd;
    const suspendedDelay = suspendedAnswer === undefined ? Number.NaN : suspendedAnswer.at - graceEnd;
    console.log(
      `suspension: bound ${BOUND_MS} ms; first 403 (${first403?.code}) ${forbiddenDelay} ms after the end of grace; ` +
        `CONSUMER_SUSPENDED ${suspendedDelay} ms after it`,
    );
    expect(first403, `after grace: ${summary(afterGrace)}\n${logs()}`).toBeDefined();
    expect(suspendedAnswer, `after grace: ${summary(afterGrace)}\n${logs()}`).toBeDefined();
    expect(forbiddenDelay).toBeLessThanOrEqual(BOUND_MS);
    expect(suspendedDelay).toBeLessThanOrEqual(BOUND_MS);
    // Once refused, never admitted again before reinstatement.
    expect(afterGrace.slice(afterGrace.indexOf(first403!)).every((a) => a.status === 403)).toBe(true);
    const suspended = await db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } });
    expect([suspended.status, suspended.suspendedReason]).toEqual(['suspended', 'payment_failed']);
    expect((await db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionId } })).status).toBe(
      'suspended',
    );

    // 4. invoice.paid: reinstated, 200 again within the same bound (measured from the POST).
    const paidSentAt = Date.now();
    expect(await postWebhook(invoiceEvent('invoice.paid'))).toBe('processed');
    const afterPaid = await pollGateway((a) => a.status === 200, BOUND_MS + 15_000);
    const reinstated = afterPaid.find((a) => a.status === 200);
    const reinstateDelay = reinstated === undefined ? Number.NaN : reinstated.at - paidSentAt;
    console.log(
      `reinstatement: bound ${BOUND_MS} ms; 200 again ${reinstateDelay} ms after invoice.paid was sent`,
    );
    expect(reinstated, `after invoice.paid: ${summary(afterPaid)}\n${logs()}`).toBeDefined();
    expect(reinstateDelay).toBeLessThanOrEqual(BOUND_MS);
    const active = await db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } });
    expect([active.status, active.suspendedReason]).toEqual(['active', null]);
    const activeSub = await db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionId } });
    expect([activeSub.status, activeSub.graceUntil]).toEqual(['active', null]);

    // 5. The same invoice.payment_failed again (same event id, re-signed as Stripe does on a retry):
    // acknowledged as a replay, no grace period starts, and the gateway keeps answering 200 for
    // longer than a new grace period plus the bound would take to refuse it.
    const rowsBefore = JSON.stringify([
      await db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } }),
      await db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionId } }),
      await db.prisma.processedWebhook.count(),
    ]);
    expect(await postWebhook(failedPayload)).toBe('replayed');
    const watchUntil = Date.now() + GRACE_PERIOD_S * 1000 + BOUND_MS;
    const afterReplay = await pollGateway(() => Date.now() >= watchUntil, GRACE_PERIOD_S * 1000 + BOUND_MS);
    expect(afterReplay.filter((a) => a.status !== 200)).toEqual([]);
    expect(
      JSON.stringify([
        await db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } }),
        await db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionId } }),
        await db.prisma.processedWebhook.count(),
      ]),
    ).toBe(rowsBefore);
  }, 120_000);
});
