import { TollgateError } from '@tollgate/core';
import type { BillingDeps } from '../deps.ts';
import type { AuditActor } from './activate-local-subscription.ts';

const LIVE = ['active', 'trialing', 'past_due', 'suspended'] as const;

/**
 * An admin ends a consumer's subscription now. A Stripe subscription is cancelled at Stripe first
 * (prorated, invoiced now, as a change to a free plan does); the row follows with its audit row in
 * one transaction, and Stripe's customer.subscription.deleted converges it if this process dies
 * in between. The gateway then refuses the consumer's keys (no live subscription).
 */
export async function cancelSubscription(
  deps: BillingDeps,
  req: { consumerId: string; actor?: AuditActor | undefined },
): Promise<{ subscriptionId: string; status: 'canceled' }> {
  const sub = await deps.prisma.subscription.findFirst({
    where: { consumerId: req.consumerId, status: { in: [...LIVE] } },
    orderBy: { createdAt: 'desc' },
  });
  if (sub === null)
    throw new TollgateError('not_found', 'NO_SUBSCRIPTION', 'The consumer has no live subscription.');
  if (sub.stripeSubscriptionId !== null)
    await deps.stripe.subscriptions.cancel(sub.stripeSubscriptionId, { prorate: true, invoice_now: true });
  const actor = req.actor ?? { kind: 'service', id: 'billing' };
  await deps.prisma.$transaction(async (tx) => {
    await tx.subscription.update({ where: { id: sub.id }, data: { status: 'canceled', graceUntil: null } });
    await tx.auditLog.create({
      data: {
        actorKind: actor.kind,
        actorId: actor.id,
        action: 'billing.subscription.canceled',
        targetType: 'subscription',
        targetId: sub.id,
        before: { status: sub.status, planId: sub.planId },
        after: { status: 'canceled', consumerId: sub.consumerId, stripe: sub.stripeSubscriptionId !== null },
        ip: actor.ip ?? null,
      },
    });
  });
  return { subscriptionId: sub.id, status: 'canceled' };
}
