import {
  billingAnchorOf,
  billingPeriodOf,
  type PlanChangePreview,
  periodContaining,
  previewPlanChange,
  TollgateError,
} from '@tollgate/core';
import type { Plan, Prisma, Subscription } from '@tollgate/db';
import type { Stripe } from '@tollgate/stripe';
import { needsStripe, syncCatalog } from '../catalog/sync-catalog.ts';
import type { BillingDeps } from '../deps.ts';

/**
 * Plan changes. The preview shows Stripe's own proration (invoices.createPreview with
 * proration_behavior create_prorations at a fixed proration_date) next to our rating of the same
 * change; confirming with that proration_date makes Stripe charge exactly what was previewed.
 * - paid → paid: the Stripe subscription's items are swapped (old prices deleted, new added).
 * - free → free: local only.  - free → paid: needs a checkout (409 CHECKOUT_REQUIRED).
 * - paid → free: the Stripe subscription is cancelled with proration and a free row starts,
 *   keeping the anchor and the period (continued-period.ts): the quota already consumed in the
 *   period stays consumed.
 * Every change writes its audit row in the transaction that changes the subscription: the audit
 * log says a change happened exactly when it did. The Stripe call comes first (it cannot join a
 * Postgres transaction); the row follows it, and the webhook that Stripe sends for the change
 * converges the row if this process dies between the two.
 */
export type ChangeMode = 'stripe' | 'local' | 'cancel_to_free';

export interface PreviewResult {
  mode: ChangeMode;
  subscriptionId: string;
  fromPlanId: string;
  toPlanId: string;
  prorationDate: number;
  usedUnits: number;
  local: PlanChangePreview;
  stripe: {
    currency: string;
    amountDue: number;
    total: number;
    /** Sum of Stripe's proration lines, and whether it equals our local proration. */
    prorationCents: number;
    matchesLocal: boolean;
    lines: { description: string | null; amount: number; proration: boolean }[];
  } | null;
}

interface Context {
  sub: Subscription & { plan: Plan };
  target: Plan;
  mode: ChangeMode;
}

async function load(deps: BillingDeps, consumerId: string, planId: string): Promise<Context> {
  const sub = await deps.prisma.subscription.findFirst({
    where: { consumerId, status: { in: ['active', 'trialing', 'past_due'] } },
    include: { plan: true },
    orderBy: { createdAt: 'desc' },
  });
  if (sub === null)
    throw new TollgateError('not_found', 'NO_SUBSCRIPTION', 'The consumer has no live subscription.');
  let target = await deps.prisma.plan.findUnique({ where: { id: planId } });
  if (target === null || target.visibility === 'archived')
    throw new TollgateError('not_found', 'PLAN_NOT_FOUND', 'No such plan.');
  if (target.id === sub.planId) throw new TollgateError('conflict', 'SAME_PLAN', 'Already on this plan.');
  const targetPaid = needsStripe(target);
  const onStripe = sub.stripeSubscriptionId !== null;
  if (!onStripe && targetPaid)
    throw new TollgateError(
      'conflict',
      'CHECKOUT_REQUIRED',
      'Moving to a paid plan needs a checkout session.',
    );
  if (
    targetPaid &&
    (target.stripeFlatPriceId === null || (target.capMode === 'soft' && target.stripeMeteredPriceId === null))
  ) {
    await syncCatalog(deps, target.id);
    target = await deps.prisma.plan.findUniqueOrThrow({ where: { id: target.id } });
  }
  const mode: ChangeMode = !onStripe ? 'local' : targetPaid ? 'stripe' : 'cancel_to_free';
  return { sub, target, mode };
}

function targetItems(target: Plan): { price: string; quantity?: number }[] {
  const items: { price: string; quantity?: number }[] = [{ price: target.stripeFlatPriceId!, quantity: 1 }];
  if (target.stripeMeteredPriceId !== null) items.push({ price: target.stripeMeteredPriceId });
  return items;
}

async function swapItems(deps: BillingDeps, stripeSubscriptionId: string, target: Plan) {
  const current = await deps.stripe.subscriptions.retrieve(stripeSubscriptionId);
  return [...current.items.data.map((i) => ({ id: i.id, deleted: true as const })), ...targetItems(target)];
}

export async function previewChange(
  deps: BillingDeps,
  consumerId: string,
  planId: string,
): Promise<PreviewResult> {
  const { sub, target, mode } = await load(deps, consumerId, planId);
  const now = deps.now();
  const prorationDate = Math.floor(now.getTime() / 1000);
  const period = billingPeriodOf(sub, now);
  const totals = await deps.usage.subscriptionTotals({
    consumerId: sub.consumerId,
    subscriptionId: sub.id,
    notBefore: sub.createdAt,
    from: period.start,
    to: now,
  });
  const usedUnits = Number(totals.units);
  const local = previewPlanChange(sub.plan, target, period, now, usedUnits);
  let stripe: PreviewResult['stripe'] = null;
  if (mode === 'stripe' && sub.stripeSubscriptionId !== null) {
    const customer =
      sub.stripeCustomerId ??
      (await deps.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } })).stripeCustomerId;
    const invoice = await deps.stripe.invoices.createPreview({
      ...(customer === null ? {} : { customer }),
      subscription: sub.stripeSubscriptionId,
      subscription_details: {
        items: await swapItems(deps, sub.stripeSubscriptionId, target),
        proration_behavior: 'create_prorations',
        proration_date: prorationDate,
      },
    });
    const summary = summarizeInvoice(invoice);
    const prorationCents = summary.lines.filter((l) => l.proration).reduce((sum, l) => sum + l.amount, 0);
    stripe = { ...summary, prorationCents, matchesLocal: BigInt(prorationCents) === local.prorationCents };
  }
  return {
    mode,
    subscriptionId: sub.id,
    fromPlanId: sub.planId,
    toPlanId: target.id,
    prorationDate,
    usedUnits,
    local,
    stripe,
  };
}

function summarizeInvoice(invoice: Stripe.Invoice) {
  return {
    currency: invoice.currency,
    amountDue: invoice.amount_due,
    total: invoice.total,
    lines: invoice.lines.data.map((l) => {
      const parent = (l as unknown as { parent?: { subscription_item_details?: { proration?: boolean } } })
        .parent;
      const legacy = (l as unknown as { proration?: boolean }).proration;
      return {
        description: l.description,
        amount: l.amount,
        proration: parent?.subscription_item_details?.proration ?? legacy ?? false,
      };
    }),
  };
}

/** Who asked for the change, recorded as the audit row's actor (the portal passes its user). */
export interface ChangeActor {
  kind: string;
  id: string;
  ip?: string | null | undefined;
}

export async function confirmChange(
  deps: BillingDeps,
  req: {
    consumerId: string;
    planId: string;
    prorationDate?: number | undefined;
    actor?: ChangeActor | undefined;
  },
): Promise<{ subscriptionId: string; planId: string; mode: ChangeMode }> {
  const { sub, target, mode } = await load(deps, req.consumerId, req.planId);
  const now = deps.now();
  const audit = (tx: Prisma.TransactionClient, subscriptionId: string, after: Record<string, unknown>) =>
    tx.auditLog.create({
      data: {
        actorKind: req.actor?.kind ?? 'service',
        actorId: req.actor?.id ?? 'billing',
        ip: req.actor?.ip ?? null,
        action: 'billing.subscription.plan_changed',
        targetType: 'subscription',
        targetId: subscriptionId,
        before: { planId: sub.planId },
        after: { ...after, consumerId: sub.consumerId, planId: target.id, mode },
      },
    });

  if (mode === 'local') {
    await deps.prisma.$transaction(async (tx) => {
      await tx.subscription.update({ where: { id: sub.id }, data: { planId: target.id } });
      await audit(tx, sub.id, {});
    });
    return { subscriptionId: sub.id, planId: target.id, mode };
  }
  if (mode === 'cancel_to_free') {
    await deps.stripe.subscriptions.cancel(sub.stripeSubscriptionId!, { prorate: true, invoice_now: true });
    // The free row continues the period: same anchor, same period, so the gateway's counter for
    // the period (consumer + period start) is the one the paid plan used.
    const anchor = billingAnchorOf(sub);
    const period = periodContaining(anchor, 'month', now);
    const created = await deps.prisma.$transaction(async (tx) => {
      await tx.subscription.update({ where: { id: sub.id }, data: { status: 'canceled', graceUntil: null } });
      const row = await tx.subscription.create({
        data: {
          consumerId: sub.consumerId,
          planId: target.id,
          status: 'active',
          currentPeriodStart: period.start,
          currentPeriodEnd: period.end,
          billingAnchor: anchor,
          carryFrom: period.start,
        },
      });
      await audit(tx, row.id, { replaced: sub.id });
      return row;
    });
    return { subscriptionId: created.id, planId: target.id, mode };
  }
  const prorationDate = req.prorationDate ?? Math.floor(now.getTime() / 1000);
  const updated = await deps.stripe.subscriptions.update(
    sub.stripeSubscriptionId!,
    {
      items: await swapItems(deps, sub.stripeSubscriptionId!, target),
      proration_behavior: 'create_prorations',
      proration_date: prorationDate,
      metadata: { tollgate_consumer_id: sub.consumerId, tollgate_plan_id: target.id },
    },
    { idempotencyKey: `tollgate:change:${sub.id}:${target.id}:${prorationDate}` },
  );
  const metered = updated.items.data.find((i) => i.price.recurring?.usage_type === 'metered');
  await deps.prisma.$transaction(async (tx) => {
    await tx.subscription.update({
      where: { id: sub.id },
      data: { planId: target.id, stripeMeteredItemId: metered?.id ?? null },
    });
    await audit(tx, sub.id, { prorationDate });
  });
  return { subscriptionId: sub.id, planId: target.id, mode };
}
