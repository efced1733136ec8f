import { randomBytes } from 'node:crypto';
import { TollgateError } from '@tollgate/core';
import { needsStripe, syncCatalog } from '../catalog/sync-catalog.ts';
import { localCheckoutEnabled } from '../config.ts';
import type { BillingDeps } from '../deps.ts';
import { activateLocalSubscription } from '../subscriptions/activate-local-subscription.ts';
import {
  ANCHOR_METADATA,
  anchorConfig,
  CARRY_METADATA,
  continuedPeriod,
} from '../subscriptions/continued-period.ts';
import { ensureCustomer } from './ensure-customer.ts';
import type { LocalCheckoutStore } from './local-checkout-store.ts';

export interface CheckoutRequest {
  consumerId: string;
  planId: string;
  successUrl: string;
  cancelUrl: string;
}

export type CheckoutResult = { activated: true; subscriptionId: string } | { id: string; url: string };

const LIVE = ['active', 'trialing', 'past_due', 'suspended'] as const;

/**
 * Subscribing. A free plan (no price, no overage) is activated here without Stripe. A paid plan
 * gets a subscription-mode Checkout Session (the customer is created first if missing); the
 * subscription row appears when checkout.session.completed arrives.
 * A consumer that had a subscription before keeps its billing anchor, so the period's consumed
 * quota and included units carry over (continued-period.ts). The plan's trial is offered once
 * per consumer and plan (plan_trials).
 */
export async function createCheckoutSession(
  deps: BillingDeps,
  store: LocalCheckoutStore,
  req: CheckoutRequest,
): Promise<CheckoutResult> {
  const { prisma } = deps;
  const consumer = await prisma.consumer.findUnique({ where: { id: req.consumerId } });
  if (consumer === null) throw new TollgateError('not_found', 'CONSUMER_NOT_FOUND', 'No such consumer.');
  let plan = await prisma.plan.findUnique({ where: { id: req.planId } });
  if (plan === null || plan.visibility === 'archived')
    throw new TollgateError('not_found', 'PLAN_NOT_FOUND', 'No such plan.');
  const live = await prisma.subscription.findFirst({
    where: { consumerId: consumer.id, status: { in: [...LIVE] } },
    include: { plan: true },
  });
  const liveIsFree = live !== null && !needsStripe(live.plan);
  if (live !== null && !liveIsFree)
    throw new TollgateError(
      'conflict',
      'ALREADY_SUBSCRIBED',
      'The consumer has a paid subscription: change plan instead.',
      {
        details: { subscriptionId: live.id },
      },
    );

  if (!needsStripe(plan)) {
    if (live !== null && live.planId === plan.id) return { activated: true, subscriptionId: live.id };
    const sub = await activateLocalSubscription(deps, consumer.id, plan.id, live?.id ?? null);
    return { activated: true, subscriptionId: sub.id };
  }

  if (plan.stripeFlatPriceId === null || (plan.capMode === 'soft' && plan.stripeMeteredPriceId === null)) {
    await syncCatalog(deps, plan.id);
    plan = await prisma.plan.findUniqueOrThrow({ where: { id: plan.id } });
  }
  if (plan.stripeFlatPriceId === null)
    throw new TollgateError('unavailable', 'PLAN_NOT_SYNCED', 'The plan is not in the Stripe catalog yet.');
  const customerId = await ensureCustomer(deps, consumer.id);
  const lineItems: { price: string; quantity?: number }[] = [{ price: plan.stripeFlatPriceId, quantity: 1 }];
  if (plan.stripeMeteredPriceId !== null) lineItems.push({ price: plan.stripeMeteredPriceId });
  const now = deps.now();
  const trialDays =
    plan.trialDays > 0 &&
    (await prisma.planTrial.count({ where: { consumerId: consumer.id, planId: plan.id } })) === 0
      ? plan.trialDays
      : 0;
  // Stripe takes a trial or an anchor, not both; the trial (once per plan) wins.
  const continued = trialDays > 0 ? null : await continuedPeriod(prisma, consumer.id, now);
  const metadata: Record<string, string> = { tollgate_consumer_id: consumer.id, tollgate_plan_id: plan.id };
  if (continued !== null) {
    metadata[ANCHOR_METADATA] = continued.anchor.toISOString();
    metadata[CARRY_METADATA] = continued.period.start.toISOString();
  }
  const session = await deps.stripe.checkout.sessions.create(
    {
      mode: 'subscription',
      customer: customerId,
      client_reference_id: consumer.id,
      line_items: lineItems,
      success_url: req.successUrl,
      cancel_url: req.cancelUrl,
      metadata,
      subscription_data: {
        metadata,
        ...(trialDays > 0 ? { trial_period_days: trialDays } : {}),
        // The first invoice covers the days up to the anchor's next boundary, prorated.
        ...(continued === null
          ? {}
          : {
              billing_cycle_anchor_config: anchorConfig(continued.anchor),
              proration_behavior: 'create_prorations' as const,
            }),
      },
    },
    { idempotencyKey: `tollgate:checkout:${consumer.id}:${plan.id}:${randomBytes(8).toString('hex')}` },
  );
  if (localCheckoutEnabled(deps.config)) {
    // stripe-mock answers every create with the same fixture id: make ours unique.
    const sessionId = `cs_local_${randomBytes(12).toString('hex')}`;
    store.put({
      sessionId,
      consumerId: consumer.id,
      planId: plan.id,
      customerId,
      priceIds: lineItems.map((l) => l.price),
      meteredPriceId: plan.stripeMeteredPriceId,
      trialDays,
      billingAnchor: continued?.anchor ?? null,
      carryFrom: continued?.period.start ?? null,
      successUrl: req.successUrl,
      cancelUrl: req.cancelUrl,
      createdAt: Date.now(),
      completed: false,
    });
    return {
      id: sessionId,
      url: `${deps.config.BILLING_PUBLIC_URL.replace(/\/$/, '')}/checkout/local/${sessionId}`,
    };
  }
  if (session.url === null)
    throw new TollgateError('unavailable', 'CHECKOUT_NO_URL', 'Stripe returned no checkout URL.');
  return { id: session.id, url: session.url };
}
