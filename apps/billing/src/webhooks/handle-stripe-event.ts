import { periodContaining } from '@tollgate/core';
import { Prisma, type SubscriptionStatus } from '@tollgate/db';
import type { Stripe } from '@tollgate/stripe';
import type { BillingDeps } from '../deps.ts';
import { ANCHOR_METADATA, CARRY_METADATA, parseMetadataDate } from '../subscriptions/continued-period.ts';

type Tx = Prisma.TransactionClient;

/**
 * Applies one verified Stripe event. The event id goes into processed_webhooks in the same
 * transaction as its effect: a replay (same id) hits the primary key, the transaction rolls
 * back, and the caller answers 200 without changing anything.
 *
 * Stripe does not deliver events in order. Subscription events are applied in the order of
 * their `created` time per subscription: the row keeps the `created` of the last one applied
 * (stripe_event_at) and an older event is recorded and otherwise ignored (outcome `stale`), so
 * an `updated` delayed past a `deleted` cannot bring the old state back. Canceled is final: Stripe
 * never reactivates a canceled subscription, so no later event revives the row either.
 */
export type WebhookOutcome = 'processed' | 'replayed' | 'ignored' | 'stale';

export const SUSPENDED_FOR_PAYMENT = 'payment_failed';

export async function handleStripeEvent(deps: BillingDeps, event: Stripe.Event): Promise<WebhookOutcome> {
  try {
    return await deps.prisma.$transaction(async (tx) => {
      await tx.processedWebhook.create({ data: { eventId: event.id, type: event.type } });
      const applied = await applyEvent(deps, tx, event);
      return applied === true ? 'processed' : applied === false ? 'ignored' : applied;
    });
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return 'replayed';
    throw err;
  }
}

async function applyEvent(deps: BillingDeps, tx: Tx, event: Stripe.Event): Promise<boolean | 'stale'> {
  switch (event.type) {
    case 'checkout.session.completed':
      await onCheckoutCompleted(deps, tx, event.data.object);
      return true;
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      return onSubscriptionChanged(deps, tx, event.data.object, event.type, new Date(event.created * 1000));
    case 'invoice.paid':
      await onInvoicePaid(deps, tx, event.data.object);
      return true;
    case 'invoice.payment_failed':
      await onPaymentFailed(deps, tx, event.data.object);
      return true;
    case 'invoice.finalized':
      await onInvoiceFinalized(tx, event.data.object);
      return true;
    default:
      return false;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Metadata comes from outside: only a well-formed uuid is looked up. */
const uuidOrNull = (v: string | null | undefined): string | null => (v != null && UUID.test(v) ? v : null);

const idOf = (v: string | { id: string } | null | undefined): string | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? v : v.id;

async function audit(
  tx: Tx,
  action: string,
  targetType: string,
  targetId: string | null,
  before: unknown,
  after: unknown,
) {
  await tx.auditLog.create({
    data: {
      actorKind: 'stripe',
      actorId: 'stripe-webhook',
      action,
      targetType,
      targetId,
      before:
        before === null ? Prisma.JsonNull : (JSON.parse(JSON.stringify(before)) as Prisma.InputJsonValue),
      after: after === null ? Prisma.JsonNull : (JSON.parse(JSON.stringify(after)) as Prisma.InputJsonValue),
    },
  });
}

/**
 * The subscription's billing anchor. A checkout that kept the consumer's anchor says so in the
 * metadata (with the anchor's milliseconds and its real day: Stripe's billing_cycle_anchor is the
 * first boundary, which is Feb 28 for an anchor on Jan 31); it is used when it agrees with
 * Stripe's anchor, else Stripe's own (someone may have reset it since).
 */
function anchorOf(s: Stripe.Subscription): Date | null {
  const stripeAnchor = typeof s.billing_cycle_anchor === 'number' ? s.billing_cycle_anchor : null;
  const kept = parseMetadataDate(s.metadata?.[ANCHOR_METADATA]);
  if (stripeAnchor === null) return kept;
  const stripeDate = new Date(stripeAnchor * 1000);
  if (kept === null) return stripeDate;
  const boundary = periodContaining(kept, 'month', stripeDate).start;
  return Math.floor(boundary.getTime() / 1000) === stripeAnchor ? kept : stripeDate;
}

async function onCheckoutCompleted(deps: BillingDeps, tx: Tx, session: Stripe.Checkout.Session) {
  if (session.mode !== 'subscription') return;
  const consumerId = uuidOrNull(session.client_reference_id ?? session.metadata?.tollgate_consumer_id);
  const planId = uuidOrNull(session.metadata?.tollgate_plan_id);
  const stripeSubscriptionId = idOf(session.subscription);
  const customerId = idOf(session.customer);
  if (consumerId === null || planId === null || stripeSubscriptionId === null) {
    deps.log.warn({ sessionId: session.id }, 'checkout.session.completed without tollgate metadata: ignored');
    return;
  }
  const [consumer, plan] = await Promise.all([
    tx.consumer.findUnique({ where: { id: consumerId } }),
    tx.plan.findUnique({ where: { id: planId } }),
  ]);
  if (consumer === null || plan === null) {
    deps.log.warn(
      { sessionId: session.id, consumerId, planId },
      'checkout.session.completed for an unknown consumer or plan: ignored',
    );
    return;
  }
  if (customerId !== null && consumer.stripeCustomerId === null)
    await tx.consumer.update({ where: { id: consumerId }, data: { stripeCustomerId: customerId } });
  const now = deps.now();
  await lockStripeSubscription(tx, stripeSubscriptionId);
  const existing = await tx.subscription.findUnique({ where: { stripeSubscriptionId } });
  // Until customer.subscription.* brings Stripe's own state: the period from now to the kept
  // anchor's next boundary (or a month), in core's period arithmetic.
  const anchor = parseMetadataDate(session.metadata?.[ANCHOR_METADATA]);
  const carryFrom = parseMetadataDate(session.metadata?.[CARRY_METADATA]);
  const sub =
    existing ??
    (await tx.subscription.create({
      data: {
        consumerId,
        planId,
        // An asynchronous payment method has not paid yet: no access until Stripe says so.
        status: session.payment_status === 'unpaid' ? 'incomplete' : 'active',
        currentPeriodStart: now,
        currentPeriodEnd: periodContaining(anchor ?? now, 'month', now).end,
        billingAnchor: anchor ?? now,
        carryFrom: carryFrom !== null && carryFrom <= now ? carryFrom : null,
        stripeCustomerId: customerId,
        stripeSubscriptionId,
      },
    }));
  await endOtherSubscriptions(tx, consumerId, sub.id);
  await audit(tx, 'billing.checkout.completed', 'subscription', sub.id, null, {
    planId,
    stripeSubscriptionId,
    sessionId: session.id,
  });
}

/**
 * One writer per Stripe subscription at a time: the events of one subscription in flight at once
 * queue here, so each sees the other's commit (the order check, the row's creation).
 */
async function lockStripeSubscription(tx: Tx, stripeSubscriptionId: string): Promise<void> {
  const key = `stripe-subscription:${stripeSubscriptionId}`;
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`;
}

/** The consumer has had this plan's trial (checkout offers it once per consumer and plan). */
async function recordTrial(tx: Tx, sub: { id: string; consumerId: string; planId: string }): Promise<void> {
  await tx.planTrial.createMany({
    data: [{ consumerId: sub.consumerId, planId: sub.planId, subscriptionId: sub.id }],
    skipDuplicates: true,
  });
}

/** A consumer has one live subscription: a new one ends the previous (for example the free plan). */
async function endOtherSubscriptions(tx: Tx, consumerId: string, keepId: string) {
  const others = await tx.subscription.findMany({
    where: {
      consumerId,
      id: { not: keepId },
      status: { in: ['active', 'trialing', 'past_due', 'incomplete'] },
    },
  });
  for (const o of others) {
    await tx.subscription.update({ where: { id: o.id }, data: { status: 'canceled' } });
    await audit(
      tx,
      'billing.subscription.replaced',
      'subscription',
      o.id,
      { status: o.status },
      { status: 'canceled', by: keepId },
    );
  }
}

export function mapStripeStatus(status: Stripe.Subscription.Status): SubscriptionStatus {
  switch (status) {
    case 'trialing':
      return 'trialing';
    case 'active':
      return 'active';
    case 'past_due':
    case 'unpaid':
      return 'past_due';
    case 'paused':
      return 'suspended';
    case 'canceled':
    case 'incomplete_expired':
      return 'canceled';
    default:
      return 'incomplete';
  }
}

async function onSubscriptionChanged(
  deps: BillingDeps,
  tx: Tx,
  s: Stripe.Subscription,
  type: string,
  eventCreated: Date,
): Promise<true | 'stale'> {
  await lockStripeSubscription(tx, s.id);
  let row = await tx.subscription.findUnique({ where: { stripeSubscriptionId: s.id } });
  const status = type === 'customer.subscription.deleted' ? 'canceled' : mapStripeStatus(s.status);
  if (row !== null && row.stripeEventAt !== null && eventCreated < row.stripeEventAt) {
    deps.log.warn(
      { subscription: s.id, type, eventCreated, applied: row.stripeEventAt },
      'subscription event older than the state already applied: ignored',
    );
    return 'stale';
  }
  if (row !== null && row.status === 'canceled' && status !== 'canceled') {
    deps.log.warn({ subscription: s.id, type, status }, 'event for a canceled subscription: not revived');
    return 'stale';
  }

  const customerId = idOf(s.customer);
  const items = s.items?.data ?? [];
  const priceIds = items.map((i) => i.price?.id).filter((x): x is string => typeof x === 'string');
  const metered = items.find((i) => i.price?.recurring?.usage_type === 'metered');
  const first = items[0] as
    | (Stripe.SubscriptionItem & { current_period_start?: number; current_period_end?: number })
    | undefined;
  const legacy = s as unknown as { current_period_start?: number; current_period_end?: number };
  const startS = first?.current_period_start ?? legacy.current_period_start;
  const endS = first?.current_period_end ?? legacy.current_period_end;

  let planId = uuidOrNull(s.metadata?.tollgate_plan_id);
  if (priceIds.length > 0) {
    const byPrice = await tx.plan.findFirst({
      where: { OR: [{ stripeFlatPriceId: { in: priceIds } }, { stripeMeteredPriceId: { in: priceIds } }] },
    });
    if (byPrice !== null) planId = byPrice.id;
  }
  const period =
    startS !== undefined && endS !== undefined
      ? { currentPeriodStart: new Date(startS * 1000), currentPeriodEnd: new Date(endS * 1000) }
      : {};
  const anchor = anchorOf(s);
  if (row === null) {
    const consumerId =
      uuidOrNull(s.metadata?.tollgate_consumer_id) ??
      (customerId === null
        ? null
        : (await tx.consumer.findUnique({ where: { stripeCustomerId: customerId } }))?.id) ??
      null;
    const known =
      consumerId !== null &&
      planId !== null &&
      (await tx.consumer.count({ where: { id: consumerId } })) > 0 &&
      (await tx.plan.count({ where: { id: planId } })) > 0;
    if (!known || consumerId === null || planId === null) {
      deps.log.warn({ subscription: s.id }, `${type} for an unknown consumer or plan: ignored`);
      return true;
    }
    const now = deps.now();
    const carryFrom = parseMetadataDate(s.metadata?.[CARRY_METADATA]);
    row = await tx.subscription.create({
      data: {
        consumerId,
        planId,
        status,
        currentPeriodStart: now,
        currentPeriodEnd: periodContaining(anchor ?? now, 'month', now).end,
        ...period,
        billingAnchor: anchor ?? period.currentPeriodStart ?? now,
        carryFrom: carryFrom !== null && carryFrom <= now ? carryFrom : null,
        stripeEventAt: eventCreated,
        trialEnd: s.trial_end === null ? null : new Date(s.trial_end * 1000),
        cancelAtPeriodEnd: s.cancel_at_period_end,
        stripeCustomerId: customerId,
        stripeSubscriptionId: s.id,
        stripeMeteredItemId: metered?.id ?? null,
      },
    });
    if (status !== 'canceled') await endOtherSubscriptions(tx, consumerId, row.id);
    if (row.trialEnd !== null) await recordTrial(tx, row);
    await audit(tx, `billing.${type}`, 'subscription', row.id, null, { status, planId });
    return true;
  }
  // Our grace period owns past_due → suspended; Stripe reporting active again reinstates.
  const nextStatus: SubscriptionStatus =
    row.status === 'suspended' && status === 'past_due' ? 'suspended' : status;
  const data = {
    status: nextStatus,
    ...period,
    ...(planId === null ? {} : { planId }),
    ...(anchor === null ? {} : { billingAnchor: anchor }),
    stripeEventAt: eventCreated,
    trialEnd: s.trial_end === null ? null : new Date(s.trial_end * 1000),
    cancelAtPeriodEnd: s.cancel_at_period_end,
    stripeCustomerId: customerId ?? row.stripeCustomerId,
    stripeMeteredItemId: metered?.id ?? null,
    ...(nextStatus === 'active' || nextStatus === 'trialing' || nextStatus === 'canceled'
      ? { graceUntil: null }
      : {}),
  };
  const updated = await tx.subscription.update({ where: { id: row.id }, data });
  if (updated.trialEnd !== null) await recordTrial(tx, updated);
  if (nextStatus === 'active' || nextStatus === 'trialing') await reinstateConsumer(tx, row.consumerId);
  await audit(
    tx,
    `billing.${type}`,
    'subscription',
    row.id,
    { status: row.status, planId: row.planId },
    { status: updated.status, planId: updated.planId },
  );
  return true;
}

function invoiceSubscriptionId(invoice: Stripe.Invoice): string | null {
  const fromParent = idOf(invoice.parent?.subscription_details?.subscription ?? null);
  if (fromParent !== null) return fromParent;
  const legacy = (invoice as unknown as { subscription?: string | { id: string } | null }).subscription;
  return idOf(legacy ?? null);
}

async function reinstateConsumer(tx: Tx, consumerId: string) {
  const consumer = await tx.consumer.findUnique({ where: { id: consumerId } });
  if (consumer?.status === 'suspended' && consumer.suspendedReason === SUSPENDED_FOR_PAYMENT) {
    await tx.consumer.update({
      where: { id: consumerId },
      data: { status: 'active', suspendedReason: null },
    });
    await audit(
      tx,
      'billing.consumer.reinstated',
      'consumer',
      consumerId,
      { status: 'suspended' },
      { status: 'active' },
    );
  }
}

async function onInvoicePaid(deps: BillingDeps, tx: Tx, invoice: Stripe.Invoice) {
  const subId = invoiceSubscriptionId(invoice);
  if (subId === null) return;
  const row = await tx.subscription.findUnique({ where: { stripeSubscriptionId: subId } });
  if (row === null) {
    deps.log.warn({ invoice: invoice.id, subscription: subId }, 'invoice.paid for an unknown subscription');
    return;
  }
  // A canceled subscription's last invoice being paid gives no access back.
  if (row.status === 'canceled') return;
  if (row.status === 'past_due' || row.status === 'suspended' || row.graceUntil !== null) {
    await tx.subscription.update({ where: { id: row.id }, data: { status: 'active', graceUntil: null } });
    await audit(
      tx,
      'billing.invoice.paid',
      'subscription',
      row.id,
      { status: row.status },
      { status: 'active', invoice: invoice.id },
    );
  }
  await reinstateConsumer(tx, row.consumerId);
}

async function onPaymentFailed(deps: BillingDeps, tx: Tx, invoice: Stripe.Invoice) {
  const subId = invoiceSubscriptionId(invoice);
  if (subId === null) return;
  const row = await tx.subscription.findUnique({ where: { stripeSubscriptionId: subId } });
  if (row === null) {
    deps.log.warn(
      { invoice: invoice.id, subscription: subId },
      'invoice.payment_failed for an unknown subscription',
    );
    return;
  }
  if (row.status === 'canceled' || row.status === 'suspended') return;
  // A repeated failure keeps the first grace deadline.
  const graceUntil =
    row.graceUntil ?? new Date(deps.now().getTime() + deps.config.BILLING_GRACE_PERIOD_SECONDS * 1000);
  await tx.subscription.update({ where: { id: row.id }, data: { status: 'past_due', graceUntil } });
  await audit(
    tx,
    'billing.invoice.payment_failed',
    'subscription',
    row.id,
    { status: row.status, graceUntil: row.graceUntil },
    { status: 'past_due', graceUntil, invoice: invoice.id },
  );
}

async function onInvoiceFinalized(tx: Tx, invoice: Stripe.Invoice) {
  const subId = invoiceSubscriptionId(invoice);
  const row =
    subId === null ? null : await tx.subscription.findUnique({ where: { stripeSubscriptionId: subId } });
  await audit(tx, 'billing.invoice.finalized', 'invoice', invoice.id ?? null, null, {
    subscriptionId: row?.id ?? null,
    stripeSubscriptionId: subId,
    customer: idOf(invoice.customer),
    currency: invoice.currency,
    total: invoice.total,
    amountDue: invoice.amount_due,
    periodStart: invoice.period_start,
    periodEnd: invoice.period_end,
    number: invoice.number,
  });
}
