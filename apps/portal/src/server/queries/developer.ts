import { type AnchoredSubscription, billingPeriodOf } from '@tollgate/core';
import { deps } from '../deps.ts';

/** The consumer's live subscription (newest not canceled), with its plan. */
export async function currentSubscription(consumerId: string) {
  return deps().prisma.subscription.findFirst({
    where: { consumerId, status: { not: 'canceled' } },
    include: { plan: true },
    orderBy: { createdAt: 'desc' },
  });
}

export async function consumerById(consumerId: string) {
  return deps().prisma.consumer.findUnique({ where: { id: consumerId } });
}

export async function publicPlans() {
  return deps().prisma.plan.findMany({
    where: { visibility: 'public' },
    orderBy: [{ priceCents: 'asc' }, { name: 'asc' }],
  });
}

/**
 * The current billing period: the subscription's (core's billingPeriodOf: the stored period while
 * it is current, else the anchored month containing now, as Stripe would renew it), else the
 * calendar month (UTC).
 */
export function currentPeriod(sub: AnchoredSubscription | null, now = new Date()) {
  if (sub) {
    const period = billingPeriodOf(sub, now);
    return { from: period.start, to: period.end };
  }
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { from, to };
}
