import { signWebhookPayload } from '@tollgate/stripe';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { suspendAfterGrace } from '../src/subscriptions/suspend-after-grace.ts';
import { createHarness, createPlan, type Harness, STRIPE_MOCK_BASE, WEBHOOK_SECRET } from './helpers.ts';

/** Stripe webhooks: signature over the raw body, replay safety, payment failure → grace → suspension. */
let h: Harness;
let app: FastifyInstance;
let clock = new Date('2026-11-21T12:00:00Z');
let consumerId: string;
let subscriptionRowId: string;
let seq = 0;

const event = (type: string, object: Record<string, unknown>, id = `evt_test_${++seq}`) =>
  JSON.stringify({
    id,
    object: 'event',
    type,
    created: Math.floor(clock.getTime() / 1000),
    livemode: false,
    data: { object },
  });

const post = (payload: string, signature = signWebhookPayload(payload, WEBHOOK_SECRET)) =>
  app.inject({
    method: 'POST',
    url: '/webhooks/stripe',
    headers: { 'content-type': 'application/json', 'stripe-signature': signature },
    payload,
  });

const invoice = (subscription: string) => ({
  id: `in_${seq}`,
  object: 'invoice',
  customer: 'cus_webhook',
  currency: 'usd',
  total: 4900,
  amount_due: 4900,
  parent: { type: 'subscription_details', subscription_details: { subscription } },
});

async function snapshot() {
  const [consumers, subscriptions, processed, audit] = await Promise.all([
    h.db.prisma.consumer.findMany({ orderBy: { id: 'asc' } }),
    h.db.prisma.subscription.findMany({ orderBy: { id: 'asc' } }),
    h.db.prisma.processedWebhook.count(),
    h.db.prisma.auditLog.count(),
  ]);
  return JSON.stringify({ consumers, subscriptions, processed, audit });
}

beforeAll(async () => {
  h = await createHarness({
    stripeApiBase: STRIPE_MOCK_BASE,
    now: () => clock,
    env: { BILLING_GRACE_PERIOD_SECONDS: '3600' },
  });
  app = await buildApp(h.deps);
  const plan = await createPlan(h.db.prisma, {
    slug: 'starter',
    priceCents: 4900,
    stripeFlatPriceId: 'price_starter_flat',
  });
  const consumer = await h.db.prisma.consumer.create({ data: { name: 'webhook co' } });
  consumerId = consumer.id;
  // checkout completes → subscription row, customer stored
  const res = await post(
    event('checkout.session.completed', {
      id: 'cs_test_1',
      object: 'checkout.session',
      mode: 'subscription',
      customer: 'cus_webhook',
      subscription: 'sub_webhook',
      client_reference_id: consumerId,
      metadata: { tollgate_consumer_id: consumerId, tollgate_plan_id: plan.id },
    }),
  );
  expect(res.statusCode).toBe(200);
  const sub = await h.db.prisma.subscription.findUniqueOrThrow({
    where: { stripeSubscriptionId: 'sub_webhook' },
  });
  subscriptionRowId = sub.id;
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

describe('webhooks.security', () => {
  const failed = () => event('invoice.payment_failed', invoice('sub_webhook'));

  it('a bad signature is rejected with 400 and changes nothing', async () => {
    const before = await snapshot();
    const payload = failed();
    const res = await post(payload, signWebhookPayload(payload, 'whsec_wrong_secret'));
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('WEBHOOK_SIGNATURE_INVALID');
    expect(await snapshot()).toBe(before);
  });

  it('a body altered after signing is rejected (signature is over the raw bytes)', async () => {
    const before = await snapshot();
    const payload = failed();
    const signature = signWebhookPayload(payload, WEBHOOK_SECRET);
    const res = await post(payload.replace('"livemode":false', '"livemode": false'), signature);
    expect(res.statusCode).toBe(400);
    expect(await snapshot()).toBe(before);
  });

  it('a stale timestamp is rejected with 400 and changes nothing', async () => {
    const before = await snapshot();
    const payload = failed();
    const stale = signWebhookPayload(payload, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 301);
    const res = await post(payload, stale);
    expect(res.statusCode).toBe(400);
    expect(await snapshot()).toBe(before);
  });

  it('a missing signature is rejected', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/webhooks/stripe',
      headers: { 'content-type': 'application/json' },
      payload: failed(),
    });
    expect(res.statusCode).toBe(400);
  });
});

describe('webhooks.happy', () => {
  it('checkout.session.completed created the subscription and stored the customer', async () => {
    const sub = await h.db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionRowId } });
    expect(sub.status).toBe('active');
    expect(
      (await h.db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } })).stripeCustomerId,
    ).toBe('cus_webhook');
  });

  it('customer.subscription.updated records the period and the metered item', async () => {
    const start = Math.floor(clock.getTime() / 1000);
    const res = await post(
      event('customer.subscription.updated', {
        id: 'sub_webhook',
        object: 'subscription',
        customer: 'cus_webhook',
        status: 'active',
        cancel_at_period_end: false,
        trial_end: null,
        metadata: {},
        items: {
          data: [
            {
              id: 'si_flat',
              price: { id: 'price_starter_flat', recurring: { usage_type: 'licensed' } },
              current_period_start: start,
              current_period_end: start + 2_592_000,
            },
            {
              id: 'si_metered',
              price: { id: 'price_x', recurring: { usage_type: 'metered' } },
              current_period_start: start,
              current_period_end: start + 2_592_000,
            },
          ],
        },
      }),
    );
    expect(res.statusCode).toBe(200);
    const sub = await h.db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionRowId } });
    expect(sub.currentPeriodStart.getTime()).toBe(start * 1000);
    expect(sub.stripeMeteredItemId).toBe('si_metered');
  });

  it('a replayed event is acknowledged and changes nothing', async () => {
    const payload = event('invoice.finalized', invoice('sub_webhook'), 'evt_replay_me');
    expect((await post(payload)).json().outcome).toBe('processed');
    const before = await snapshot();
    const again = await post(payload);
    expect(again.statusCode).toBe(200);
    expect(again.json().outcome).toBe('replayed');
    expect(await snapshot()).toBe(before);
    expect(await h.db.prisma.auditLog.count({ where: { action: 'billing.invoice.finalized' } })).toBe(1);
  });

  it('a failed payment starts the grace period; after it the consumer is suspended; a paid invoice reinstates', async () => {
    const res = await post(event('invoice.payment_failed', invoice('sub_webhook')));
    expect(res.statusCode).toBe(200);
    let sub = await h.db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionRowId } });
    expect(sub.status).toBe('past_due');
    expect(sub.graceUntil?.getTime()).toBe(clock.getTime() + 3_600_000);
    // still inside the grace period: access continues
    clock = new Date(clock.getTime() + 3_599_000);
    expect(await suspendAfterGrace(h.deps)).toEqual([]);
    expect((await h.db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } })).status).toBe(
      'active',
    );
    // a second failure keeps the first deadline
    await post(event('invoice.payment_failed', invoice('sub_webhook')));
    sub = await h.db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionRowId } });
    expect(sub.graceUntil?.getTime()).toBe(clock.getTime() - 3_599_000 + 3_600_000);
    // grace over: suspended
    clock = new Date(clock.getTime() + 1000);
    expect(await suspendAfterGrace(h.deps)).toEqual([consumerId]);
    const consumer = await h.db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } });
    expect(consumer.status).toBe('suspended');
    expect(consumer.suspendedReason).toBe('payment_failed');
    expect(
      (await h.db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionRowId } })).status,
    ).toBe('suspended');
    expect(
      await h.db.prisma.auditLog.count({
        where: { action: 'billing.consumer.suspended', targetId: consumerId },
      }),
    ).toBe(1);
    // paid: reinstated
    const paid = await post(event('invoice.paid', invoice('sub_webhook')));
    expect(paid.statusCode).toBe(200);
    const after = await h.db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } });
    expect(after.status).toBe('active');
    expect(after.suspendedReason).toBeNull();
    sub = await h.db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionRowId } });
    expect(sub.status).toBe('active');
    expect(sub.graceUntil).toBeNull();
    expect(
      await h.db.prisma.auditLog.count({
        where: { action: 'billing.consumer.reinstated', targetId: consumerId },
      }),
    ).toBe(1);
  });

  it('an admin suspension is not lifted by a paid invoice', async () => {
    await h.db.prisma.consumer.update({
      where: { id: consumerId },
      data: { status: 'suspended', suspendedReason: 'abuse' },
    });
    await post(event('invoice.paid', invoice('sub_webhook')));
    expect((await h.db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } })).status).toBe(
      'suspended',
    );
    await h.db.prisma.consumer.update({
      where: { id: consumerId },
      data: { status: 'active', suspendedReason: null },
    });
  });

  it('customer.subscription.deleted cancels the subscription', async () => {
    await post(
      event('customer.subscription.deleted', {
        id: 'sub_webhook',
        object: 'subscription',
        customer: 'cus_webhook',
        status: 'canceled',
        cancel_at_period_end: false,
        trial_end: null,
        metadata: {},
        items: { data: [] },
      }),
    );
    expect(
      (await h.db.prisma.subscription.findUniqueOrThrow({ where: { id: subscriptionRowId } })).status,
    ).toBe('canceled');
  });

  it('events naming an unknown or malformed consumer are acknowledged without effect', async () => {
    const before = await h.db.prisma.subscription.count();
    for (const consumer of ['not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
      const res = await post(
        event('checkout.session.completed', {
          id: 'cs_test_x',
          object: 'checkout.session',
          mode: 'subscription',
          customer: 'cus_x',
          subscription: `sub_x_${consumer}`,
          client_reference_id: consumer,
          metadata: { tollgate_consumer_id: consumer, tollgate_plan_id: consumer },
        }),
      );
      expect(res.statusCode).toBe(200);
    }
    expect(await h.db.prisma.subscription.count()).toBe(before);
  });

  it('an unhandled event type is acknowledged and recorded once', async () => {
    const res = await post(event('customer.created', { id: 'cus_x', object: 'customer' }, 'evt_other'));
    expect(res.json().outcome).toBe('ignored');
    expect(await h.db.prisma.processedWebhook.findUnique({ where: { eventId: 'evt_other' } })).not.toBeNull();
  });
});

describe('webhooks.order', () => {
  /** A subscription event stamped `created` (seconds), as Stripe would send it. */
  const subscriptionEvent = (
    type: string,
    created: number,
    sub: { id: string; status: string; price: string; start: number; end: number },
  ) =>
    JSON.stringify({
      id: `evt_order_${++seq}`,
      object: 'event',
      type,
      created,
      livemode: false,
      data: {
        object: {
          id: sub.id,
          object: 'subscription',
          customer: 'cus_order',
          status: sub.status,
          cancel_at_period_end: false,
          trial_end: null,
          billing_cycle_anchor: sub.start,
          metadata: { tollgate_consumer_id: orderConsumerId },
          items: {
            data: [
              {
                id: `si_${sub.id}`,
                price: { id: sub.price, recurring: { usage_type: 'licensed' } },
                current_period_start: sub.start,
                current_period_end: sub.end,
              },
            ],
          },
        },
      },
    });

  let orderConsumerId: string;
  let basicPrice: string;
  let premiumPrice: string;
  let premiumPlanId: string;
  const t0 = Math.floor(new Date('2026-11-21T12:00:00Z').getTime() / 1000);

  beforeAll(async () => {
    orderConsumerId = (
      await h.db.prisma.consumer.create({ data: { name: 'order co', stripeCustomerId: 'cus_order' } })
    ).id;
    basicPrice = 'price_order_basic';
    premiumPrice = 'price_order_premium';
    await createPlan(h.db.prisma, { slug: 'order-basic', priceCents: 1000, stripeFlatPriceId: basicPrice });
    premiumPlanId = (
      await createPlan(h.db.prisma, {
        slug: 'order-premium',
        priceCents: 5000,
        stripeFlatPriceId: premiumPrice,
      })
    ).id;
  });

  const row = (id: string) =>
    h.db.prisma.subscription.findUniqueOrThrow({ where: { stripeSubscriptionId: id } });

  it('an older updated event delivered after a newer one changes nothing', async () => {
    const id = 'sub_order_late_update';
    const created = subscriptionEvent('customer.subscription.created', t0, {
      id,
      status: 'active',
      price: basicPrice,
      start: t0,
      end: t0 + 100,
    });
    expect((await post(created)).json().outcome).toBe('processed');
    // Stripe sent: upgraded to premium and renewed (t0+60), then past_due (t0+120); the network
    // delivers the t0+120 event first.
    const newer = subscriptionEvent('customer.subscription.updated', t0 + 120, {
      id,
      status: 'past_due',
      price: premiumPrice,
      start: t0 + 100,
      end: t0 + 200,
    });
    const older = subscriptionEvent('customer.subscription.updated', t0 + 60, {
      id,
      status: 'active',
      price: basicPrice,
      start: t0,
      end: t0 + 100,
    });
    expect((await post(newer)).json().outcome).toBe('processed');
    const afterNewer = await row(id);
    expect(afterNewer).toMatchObject({ status: 'past_due', planId: premiumPlanId });
    const res = await post(older);
    expect(res.statusCode).toBe(200);
    expect(res.json().outcome).toBe('stale');
    const after = await row(id);
    expect(after).toEqual(afterNewer);
    // the stale event was still recorded, so its redelivery is a replay
    expect((await post(older)).json().outcome).toBe('replayed');
  });

  it('an updated event delayed past deleted does not revive the canceled subscription', async () => {
    const id = 'sub_order_revive';
    const at = t0 + 1000;
    const sub = { id, price: basicPrice, start: at, end: at + 100 };
    expect(
      (
        await post(subscriptionEvent('customer.subscription.created', at, { ...sub, status: 'active' }))
      ).json().outcome,
    ).toBe('processed');
    expect(
      (
        await post(
          subscriptionEvent('customer.subscription.deleted', at + 20, { ...sub, status: 'canceled' }),
        )
      ).json().outcome,
    ).toBe('processed');
    expect((await row(id)).status).toBe('canceled');
    // the update Stripe sent before the cancellation, arriving late
    const late = await post(
      subscriptionEvent('customer.subscription.updated', at + 10, { ...sub, status: 'active' }),
    );
    expect(late.json().outcome).toBe('stale');
    expect((await row(id)).status).toBe('canceled');
    // even an event stamped later cannot: Stripe never reactivates a canceled subscription
    const later = await post(
      subscriptionEvent('customer.subscription.updated', at + 30, { ...sub, status: 'active' }),
    );
    expect(later.json().outcome).toBe('stale');
    expect((await row(id)).status).toBe('canceled');
    // nor can its last invoice being paid
    await post(event('invoice.paid', invoice(id)));
    expect((await row(id)).status).toBe('canceled');
    expect(
      await h.db.prisma.subscription.count({
        where: { consumerId: orderConsumerId, stripeSubscriptionId: id },
      }),
    ).toBe(1);
  });

  it('checkout.session.completed does not hide the subscription.created Stripe stamped before it', async () => {
    const id = 'sub_order_checkout_first';
    const at = t0 + 2000;
    const session = event('checkout.session.completed', {
      id: 'cs_order',
      object: 'checkout.session',
      mode: 'subscription',
      payment_status: 'no_payment_required',
      customer: 'cus_order',
      subscription: id,
      client_reference_id: orderConsumerId,
      metadata: { tollgate_consumer_id: orderConsumerId, tollgate_plan_id: premiumPlanId },
    });
    expect((await post(session)).json().outcome).toBe('processed');
    const created = subscriptionEvent('customer.subscription.created', at, {
      id,
      status: 'trialing',
      price: premiumPrice,
      start: at,
      end: at + 500,
    });
    expect((await post(created)).json().outcome).toBe('processed');
    const sub = await row(id);
    expect(sub.status).toBe('trialing');
    expect(sub.currentPeriodEnd.getTime()).toBe((at + 500) * 1000);
  });
});
