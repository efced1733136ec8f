import { randomBytes } from 'node:crypto';
import { periodContaining, TollgateError } from '@tollgate/core';
import { signWebhookPayload } from '@tollgate/stripe';
import type { BillingDeps } from '../deps.ts';
import { ANCHOR_METADATA, CARRY_METADATA } from '../subscriptions/continued-period.ts';
import type { LocalCheckoutStore } from './local-checkout-store.ts';

/**
 * LOCAL TEST CHECKOUT (stripe-mock only; see config.ts localCheckoutEnabled). Paying on the
 * local page does what Stripe does after a real checkout: it sends our webhook endpoint a
 * signed checkout.session.completed and then customer.subscription.created, over the same
 * route, parser and signature check as real Stripe traffic (`deliver` posts the raw body with a
 * Stripe-Signature header made with STRIPE_WEBHOOK_SECRET).
 */
export type DeliverWebhook = (
  rawBody: string,
  signature: string,
) => Promise<{ statusCode: number; body: string }>;

const rid = (prefix: string) => `${prefix}_local_${randomBytes(12).toString('hex')}`;

export async function completeLocalCheckout(
  deps: BillingDeps,
  store: LocalCheckoutStore,
  sessionId: string,
  deliver: DeliverWebhook,
): Promise<{ redirect: string }> {
  const s = store.get(sessionId);
  if (s === undefined)
    throw new TollgateError('not_found', 'CHECKOUT_NOT_FOUND', 'No such local checkout session.');
  if (s.completed) return { redirect: s.successUrl };
  const now = deps.now();
  const t = Math.floor(now.getTime() / 1000);
  // As Stripe would: a trial runs trialDays and anchors the cycle at its end; a kept anchor
  // (billing_cycle_anchor_config) makes the first period end at the anchor's next boundary;
  // otherwise the cycle starts now. Period arithmetic is core's (it clamps as Stripe does).
  const trialEnd = s.trialDays > 0 ? t + s.trialDays * 86_400 : null;
  const nowSecond = new Date(t * 1000);
  const periodEnd =
    trialEnd ??
    Math.floor(periodContaining(s.billingAnchor ?? nowSecond, 'month', nowSecond).end.getTime() / 1000);
  const cycleAnchor = trialEnd ?? (s.billingAnchor === null ? t : periodEnd);
  const subscriptionId = rid('sub');
  const metadata: Record<string, string> = { tollgate_consumer_id: s.consumerId, tollgate_plan_id: s.planId };
  if (s.billingAnchor !== null) metadata[ANCHOR_METADATA] = s.billingAnchor.toISOString();
  if (s.carryFrom !== null) metadata[CARRY_METADATA] = s.carryFrom.toISOString();

  const session = {
    id: s.sessionId,
    object: 'checkout.session',
    mode: 'subscription',
    status: 'complete',
    payment_status: trialEnd === null ? 'paid' : 'no_payment_required',
    customer: s.customerId,
    subscription: subscriptionId,
    client_reference_id: s.consumerId,
    metadata,
    success_url: s.successUrl,
    cancel_url: s.cancelUrl,
    created: t,
    livemode: false,
  };
  const subscription = {
    id: subscriptionId,
    object: 'subscription',
    customer: s.customerId,
    status: trialEnd === null ? 'active' : 'trialing',
    metadata,
    cancel_at_period_end: false,
    trial_end: trialEnd,
    created: t,
    billing_cycle_anchor: cycleAnchor,
    livemode: false,
    items: {
      object: 'list',
      data: s.priceIds.map((priceId) => ({
        id: rid('si'),
        object: 'subscription_item',
        current_period_start: t,
        current_period_end: periodEnd,
        price: {
          id: priceId,
          object: 'price',
          recurring: { interval: 'month', usage_type: priceId === s.meteredPriceId ? 'metered' : 'licensed' },
        },
        quantity: priceId === s.meteredPriceId ? undefined : 1,
      })),
    },
  };
  for (const [type, object] of [
    ['checkout.session.completed', session],
    ['customer.subscription.created', subscription],
  ] as const) {
    const payload = JSON.stringify({
      id: rid('evt'),
      object: 'event',
      api_version: '2026-10-28',
      created: t,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      data: { object },
    });
    const res = await deliver(payload, signWebhookPayload(payload, deps.config.STRIPE_WEBHOOK_SECRET));
    if (res.statusCode !== 200)
      throw new TollgateError(
        'unavailable',
        'LOCAL_WEBHOOK_FAILED',
        `local webhook delivery failed: ${res.statusCode}`,
      );
  }
  s.completed = true;
  return { redirect: s.successUrl };
}

const esc = (v: string) =>
  v.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderLocalCheckoutPage(p: {
  sessionId: string;
  planName: string;
  amount: string;
  cancelUrl: string;
}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test checkout · Tollgate</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
.box{border:1px solid #ccc;border-radius:8px;padding:1.5rem}.warn{background:#fff3cd;padding:.5rem;border-radius:4px}
button{font-size:1.1rem;padding:.6rem 1.4rem;cursor:pointer}</style></head>
<body><div class="box">
<p class="warn">Local test checkout (stripe-mock). No card is charged.</p>
<h1>Subscribe to ${esc(p.planName)}</h1>
<p data-testid="amount">${esc(p.amount)} per month</p>
<form method="post" action="/checkout/local/${esc(p.sessionId)}/pay">
<button type="submit" id="pay" data-testid="pay">Pay</button>
</form>
<p><a href="${esc(p.cancelUrl)}" id="cancel">Cancel</a></p>
</div></body></html>`;
}
