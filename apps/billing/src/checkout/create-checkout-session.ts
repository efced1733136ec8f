import { randomBytes } from 'node:crypto';
import { TollgateError } from '@tollgate/core';
import { needsStripe, syncCatalog } from '../catalog/sync-catalog.ts';
import { localCheckoutEnabled } from '../config.ts';
import type { BillingDeps } from '../deps.ts';
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
    const now = deps.now();
    const end = new Date(now);
    end.setUTCMonth(end.getUTCMonth() + 1);
    const sub = await prisma.$transaction(async (tx) => {
      if (live !== null)
        await tx.subscription.update({ where: { id: live.id }, data: { status: 'canceled' } });
      const created = await tx.subscription.create({
        data: {
          consumerId: consumer.id,
          planId: plan!.id,
          status: 'active',
          currentPeriodStart: now,
          currentPeriodEnd: end,
        },
      });
      await tx.auditLog.create({
        data: {
          actorKind: 'service',
          actorId: 'billing',
          action: 'billing.subscription.activated_free',
          targetType: 'subscription',
          targetId: created.id,
          after: { planId: plan!.id, consumerId: consumer.id, replaced: live?.id ?? null },
        },
      });
      return created;
    });
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
  const metadata = { tollgate_consumer_id: consumer.id, tollgate_plan_id: plan.id };
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
        ...(plan.trialDays > 0 ? { trial_period_days: plan.trialDays } : {}),
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
