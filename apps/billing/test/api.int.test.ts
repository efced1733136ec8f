import { randomUUID } from 'node:crypto';
import { createStripe } from '@tollgate/stripe';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { syncCatalog } from '../src/catalog/sync-catalog.ts';
import { ensureCustomer } from '../src/checkout/ensure-customer.ts';
import { KeyedSerializer, TokenBucket } from '../src/usage/rate-limiter.ts';
import { sendMeterReports } from '../src/usage/send-meter-reports.ts';
import {
  chTime,
  createHarness,
  createPlan,
  type Harness,
  SERVICE_TOKEN,
  STRIPE_MOCK_BASE,
} from './helpers.ts';

/**
 * The HTTP API against the shared stripe-mock: every Stripe call the code makes must be a
 * request Stripe's OpenAPI spec accepts (stripe-mock rejects anything else with 400).
 */
let h: Harness;
let app: FastifyInstance;
const auth = { authorization: `Bearer ${SERVICE_TOKEN}` };
let freeId: string;
let starterId: string;
let proId: string;

const newConsumer = async (name: string) => (await h.db.prisma.consumer.create({ data: { name } })).id;

beforeAll(async () => {
  h = await createHarness({ stripeApiBase: STRIPE_MOCK_BASE });
  app = await buildApp(h.deps, { runUsageOnce: async () => {} });
  freeId = (await createPlan(h.db.prisma, { slug: 'free', priceCents: 0 })).id;
  starterId = (await createPlan(h.db.prisma, { slug: 'starter', priceCents: 4900, quota: 50_000 })).id;
  proId = (
    await createPlan(h.db.prisma, {
      slug: 'pro',
      priceCents: 19_900,
      quota: 500_000,
      capMode: 'soft',
      overageUnitPriceDecimal: '0.04',
      overageCeiling: 1_000_000,
    })
  ).id;
  await syncCatalog(h.deps);
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

describe('billing.api.security', () => {
  it('rejects /v1 calls without the service token', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/invoices?consumerId=${randomUUID()}` });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const wrong = await app.inject({
      method: 'POST',
      url: '/v1/catalog/sync',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
  });

  it('an encoded path that decodes to a /v1 route still needs the token', async () => {
    const res = await app.inject({ method: 'GET', url: `/%761/invoices?consumerId=${randomUUID()}` });
    expect(res.statusCode).toBe(401);
  });

  it('validates bodies and answers problem+json', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/checkout-sessions',
      headers: auth,
      payload: { consumerId: 'x' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'INVALID_REQUEST', status: 400 });
  });

  it('a Stripe outage is a 503 problem that leaks nothing', async () => {
    const down = await buildApp({
      ...h.deps,
      stripe: createStripe({ secretKey: 'sk_test_123', apiBase: 'http://127.0.0.1:1', timeoutMs: 500 }),
    });
    try {
      const consumerId = await newConsumer('outage co');
      const res = await down.inject({
        method: 'POST',
        url: '/v1/checkout-sessions',
        headers: auth,
        payload: {
          consumerId,
          planId: starterId,
          successUrl: 'http://localhost:3000/a',
          cancelUrl: 'http://localhost:3000/b',
        },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'STRIPE_ERROR', status: 503 });
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body).not.toContain('127.0.0.1:1');
    } finally {
      await down.close();
    }
  });

  it('the local test checkout does not exist with a real key', async () => {
    const real = await buildApp({
      ...h.deps,
      config: { ...h.deps.config, STRIPE_SECRET_KEY: 'sk_test_a_real_key' },
    });
    try {
      const res = await real.inject({ method: 'GET', url: '/checkout/local/cs_local_x' });
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('ROUTE_NOT_FOUND');
    } finally {
      await real.close();
    }
  });

  it('serves health and the OpenAPI document', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/checkout-sessions');
  });
});

describe('billing.api.happy (stripe-mock)', () => {
  it('a free plan activates without Stripe', async () => {
    const consumerId = await newConsumer('free co');
    const res = await app.inject({
      method: 'POST',
      url: '/v1/checkout-sessions',
      headers: auth,
      payload: {
        consumerId,
        planId: freeId,
        successUrl: 'http://localhost:3000/ok',
        cancelUrl: 'http://localhost:3000/no',
      },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().activated).toBe(true);
    const sub = await h.db.prisma.subscription.findFirstOrThrow({ where: { consumerId } });
    expect(sub).toMatchObject({ planId: freeId, status: 'active', stripeSubscriptionId: null });
    expect(
      (await h.db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } })).stripeCustomerId,
    ).toBeNull();
  });

  it('an admin starts a consumer with no subscription on a free plan without checkout; paid plans and subscribed consumers are 409s', async () => {
    const consumerId = await newConsumer('started co');
    const start = (planId: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/subscriptions/start',
        headers: auth,
        payload: { consumerId, planId, actor: { kind: 'admin_token', id: 'tok-1', ip: '10.0.0.1' } },
      });
    const paid = await start(starterId);
    expect([paid.statusCode, paid.json().code]).toEqual([409, 'CHECKOUT_REQUIRED']);
    const res = await start(freeId);
    expect(res.statusCode).toBe(201);
    const sub = await h.db.prisma.subscription.findFirstOrThrow({ where: { consumerId } });
    expect(res.json()).toEqual({ subscriptionId: sub.id });
    expect(sub).toMatchObject({ planId: freeId, status: 'active', stripeSubscriptionId: null });
    const audit = await h.db.prisma.auditLog.findFirstOrThrow({ where: { targetId: sub.id } });
    expect(audit).toMatchObject({ actorKind: 'admin_token', actorId: 'tok-1', ip: '10.0.0.1' });
    const again = await start(freeId);
    expect([again.statusCode, again.json().code]).toEqual([409, 'ALREADY_SUBSCRIBED']);
    const missing = await app.inject({
      method: 'POST',
      url: '/v1/subscriptions/start',
      headers: auth,
      payload: { consumerId: '00000000-0000-4000-8000-000000000000', planId: freeId },
    });
    expect(missing.statusCode).toBe(404);
  });

  it('an admin cancels a local subscription and a Stripe one (at Stripe first); none left is a 404', async () => {
    const cancel = (consumerId: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/subscriptions/cancel',
        headers: auth,
        payload: { consumerId, actor: { kind: 'admin_token', id: 'tok-2' } },
      });
    const local = await newConsumer('cancel local co');
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/subscriptions/start',
          headers: auth,
          payload: { consumerId: local, planId: freeId },
        })
      ).statusCode,
    ).toBe(201);
    const res = await cancel(local);
    expect(res.statusCode, res.body).toBe(200);
    const row = await h.db.prisma.subscription.findFirstOrThrow({ where: { consumerId: local } });
    expect(res.json()).toEqual({ subscriptionId: row.id, status: 'canceled' });
    expect(row.status).toBe('canceled');
    const audit = await h.db.prisma.auditLog.findFirstOrThrow({
      where: { targetId: row.id, action: 'billing.subscription.canceled' },
    });
    expect(audit).toMatchObject({ actorKind: 'admin_token', actorId: 'tok-2' });
    expect((await cancel(local)).statusCode).toBe(404);

    const onStripe = await newConsumer('cancel stripe co');
    const now = Date.now();
    await h.db.prisma.subscription.create({
      data: {
        consumerId: onStripe,
        planId: starterId,
        status: 'active',
        currentPeriodStart: new Date(now - 86_400_000),
        currentPeriodEnd: new Date(now + 29 * 86_400_000),
        stripeSubscriptionId: 'sub_cancel_test',
      },
    });
    const stripeRes = await cancel(onStripe);
    expect(stripeRes.statusCode, stripeRes.body).toBe(200);
    expect(
      (await h.db.prisma.subscription.findFirstOrThrow({ where: { consumerId: onStripe } })).status,
    ).toBe('canceled');
  });

  it('a paid plan gets a checkout session; paying on the local page activates it through a signed webhook', async () => {
    const consumerId = await newConsumer('paid co');
    const res = await app.inject({
      method: 'POST',
      url: '/v1/checkout-sessions',
      headers: auth,
      payload: {
        consumerId,
        planId: proId,
        successUrl: 'http://localhost:3000/billing?ok=1',
        cancelUrl: 'http://localhost:3000/no',
      },
    });
    expect(res.statusCode).toBe(200);
    const { id, url } = res.json() as { id: string; url: string };
    expect(url).toBe(`http://127.0.0.1:8082/checkout/local/${id}`);
    // the customer was created in Stripe and stored
    expect(
      (await h.db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } })).stripeCustomerId,
    ).toMatch(/^cus_/);
    const page = await app.inject({ method: 'GET', url: `/checkout/local/${id}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Pay');
    expect(page.body).toContain('199.00 USD');
    const pay = await app.inject({
      method: 'POST',
      url: `/checkout/local/${id}/pay`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    expect(pay.statusCode).toBe(303);
    expect(pay.headers.location).toBe('http://localhost:3000/billing?ok=1');
    const sub = await h.db.prisma.subscription.findFirstOrThrow({ where: { consumerId } });
    expect(sub.status).toBe('active');
    expect(sub.planId).toBe(proId);
    expect(sub.stripeSubscriptionId).toMatch(/^sub_local_/);
    expect(sub.stripeMeteredItemId).toMatch(/^si_local_/);
    expect(await h.db.prisma.processedWebhook.count()).toBe(2);
    // a second checkout for the same consumer is a plan change, not a new subscription
    const again = await app.inject({
      method: 'POST',
      url: '/v1/checkout-sessions',
      headers: auth,
      payload: {
        consumerId,
        planId: starterId,
        successUrl: 'http://localhost:3000/a',
        cancelUrl: 'http://localhost:3000/b',
      },
    });
    expect(again.statusCode).toBe(409);
  });

  it('portal session, proration preview, plan change and invoices are accepted by Stripe', async () => {
    const consumerId = await newConsumer('changer co');
    const customer = await ensureCustomer(h.deps, consumerId);
    const start = new Date(Date.now() - 10 * 86_400_000);
    const sub = await h.db.prisma.subscription.create({
      data: {
        consumerId,
        planId: starterId,
        status: 'active',
        currentPeriodStart: start,
        currentPeriodEnd: new Date(start.getTime() + 30 * 86_400_000),
        stripeCustomerId: customer,
        stripeSubscriptionId: `sub_${randomUUID().slice(0, 8)}`,
      },
    });
    await h.clickhouse.insert({
      table: 'usage_events_v1',
      format: 'JSONEachRow',
      values: [1, 2, 3].map((i) => ({
        event_id: randomUUID(),
        time: chTime(new Date(Date.now() - i * 3_600_000)),
        consumer_id: consumerId,
        subscription_id: sub.id,
        units: 2,
        billable: 1,
      })),
    });

    const portal = await app.inject({
      method: 'POST',
      url: '/v1/portal-sessions',
      headers: auth,
      payload: { consumerId, returnUrl: 'http://localhost:3000/billing' },
    });
    expect(portal.statusCode).toBe(200);
    expect(typeof portal.json().url).toBe('string');

    const preview = await app.inject({
      method: 'POST',
      url: '/v1/subscriptions/preview-change',
      headers: auth,
      payload: { consumerId, planId: proId },
    });
    expect(preview.statusCode).toBe(200);
    const p = preview.json();
    expect(p.mode).toBe('stripe');
    expect(p.usedUnits).toBe(6);
    expect(typeof p.stripe.amountDue).toBe('number');
    // ours: credit 20/30 of 49.00, charge 20/30 of 199.00 (to the second)
    expect(p.local.prorationCents).toBeGreaterThan(9_000);
    expect(p.local.prorationCents).toBeLessThan(10_100);

    const change = await app.inject({
      method: 'POST',
      url: '/v1/subscriptions/change',
      headers: auth,
      payload: { consumerId, planId: proId, prorationDate: p.prorationDate },
    });
    expect(change.statusCode).toBe(200);
    expect((await h.db.prisma.subscription.findUniqueOrThrow({ where: { id: sub.id } })).planId).toBe(proId);
    expect(
      await h.db.prisma.auditLog.count({
        where: { action: 'billing.subscription.plan_changed', targetId: sub.id },
      }),
    ).toBe(1);

    const invoices = await app.inject({
      method: 'GET',
      url: `/v1/invoices?consumerId=${consumerId}`,
      headers: auth,
    });
    expect(invoices.statusCode).toBe(200);
    const body = invoices.json();
    expect(body.source).toBe('stripe');
    expect(body.invoices.length).toBeGreaterThan(0);
    expect(body.preview.usedUnits).toBe(6);
    expect(body.preview.totalCents).toBe(19_900);
  });

  it('invoices fall back to the local preview for a consumer without a Stripe customer', async () => {
    const consumerId = await newConsumer('local co');
    await app.inject({
      method: 'POST',
      url: '/v1/checkout-sessions',
      headers: auth,
      payload: {
        consumerId,
        planId: freeId,
        successUrl: 'http://localhost:3000/ok',
        cancelUrl: 'http://localhost:3000/no',
      },
    });
    const res = await app.inject({
      method: 'GET',
      url: `/v1/invoices?consumerId=${consumerId}`,
      headers: auth,
    });
    expect(res.json()).toMatchObject({
      source: 'local',
      invoices: [],
      preview: { totalCents: 0, planId: freeId },
    });
  });

  it('meter events are accepted by Stripe', async () => {
    const sub = await h.db.prisma.subscription.findFirstOrThrow({ where: { planId: proId } });
    await h.db.prisma.meterReport.create({
      data: {
        identifier: `${sub.id}:${new Date(Date.now() - 7_200_000).toISOString()}`,
        subscriptionId: sub.id,
        meter: 'tollgate_api_units',
        windowStart: new Date(Date.now() - 7_200_000),
        windowEnd: new Date(Date.now() - 3_600_000),
        value: 42n,
      },
    });
    const result = await sendMeterReports(h.deps, {
      bucket: new TokenBucket(100),
      serializer: new KeyedSerializer(),
    });
    expect(result).toMatchObject({ sent: 1, deadLettered: 0, stillPending: 0 });
  });

  it('reconciliation lists each subscription with gateway, ClickHouse and Stripe figures', async () => {
    const from = new Date(Date.now() - 40 * 86_400_000).toISOString();
    const to = new Date(Date.now() + 86_400_000).toISOString();
    const res = await app.inject({
      method: 'GET',
      url: `/v1/reconciliation?from=${from}&to=${to}`,
      headers: auth,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.subscriptions.length).toBeGreaterThan(0);
    const changed = body.subscriptions.find(
      (s: { clickhouse: { units: number } }) => s.clickhouse.units === 6,
    );
    expect(changed.gateway).toMatchObject({ admittedRequests: 3, admittedUnits: 6 });
  });
});
