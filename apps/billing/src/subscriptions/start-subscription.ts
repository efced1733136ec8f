import { TollgateError } from '@tollgate/core';
import { needsStripe } from '../catalog/sync-catalog.ts';
import type { BillingDeps } from '../deps.ts';
import { type AuditActor, activateLocalSubscription } from './activate-local-subscription.ts';

const LIVE = ['active', 'trialing', 'past_due', 'suspended'] as const;

/**
 * An admin puts a consumer with no live subscription on a plan (private plans included), with
 * no checkout: a plan with nothing to charge starts at once. A paid plan still needs the
 * consumer's checkout (409 CHECKOUT_REQUIRED): billing has no provider-invoiced subscription.
 * A consumer that has one is moved with /v1/subscriptions/change instead (409 ALREADY_SUBSCRIBED).
 */
export async function startSubscription(
  deps: BillingDeps,
  req: { consumerId: string; planId: string; actor?: AuditActor | undefined },
): Promise<{ subscriptionId: string }> {
  const { prisma } = deps;
  if ((await prisma.consumer.findUnique({ where: { id: req.consumerId }, select: { id: true } })) === null)
    throw new TollgateError('not_found', 'CONSUMER_NOT_FOUND', 'No such consumer.');
  const plan = await prisma.plan.findUnique({ where: { id: req.planId } });
  if (plan === null || plan.visibility === 'archived')
    throw new TollgateError('not_found', 'PLAN_NOT_FOUND', 'No such plan.');
  const live = await prisma.subscription.findFirst({
    where: { consumerId: req.consumerId, status: { in: [...LIVE] } },
    select: { id: true },
  });
  if (live !== null)
    throw new TollgateError(
      'conflict',
      'ALREADY_SUBSCRIBED',
      'The consumer has a subscription: change plan instead.',
      {
        details: { subscriptionId: live.id },
      },
    );
  if (needsStripe(plan))
    throw new TollgateError(
      'conflict',
      'CHECKOUT_REQUIRED',
      'A paid plan needs the consumer to check out; billing has no invoiced subscription yet.',
    );
  const sub = await activateLocalSubscription(deps, req.consumerId, plan.id, null, req.actor);
  return { subscriptionId: sub.id };
}
