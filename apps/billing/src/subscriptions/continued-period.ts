import { billingAnchorOf, type Period, periodContaining } from '@tollgate/core';
import type { Prisma, PrismaClient } from '@tollgate/db';

/**
 * How a new subscription continues the consumer's billing periods.
 *
 * The period's consumption lives in two places, both keyed by period, not by subscription:
 * the gateway's quota counter in Redis (`c:<consumer>` + the quota period's start) and the
 * included units of the period (the quota, free on Stripe's graduated metered price). A new
 * subscription that started a new anchor would start a new period: downgrading to Free and
 * checking out again would reset both, while Stripe charges only the days used. So every new
 * subscription of a consumer that had one before keeps the consumer's anchor:
 *   - its quota periods are the same periods (same start, so the same Redis counter);
 *   - a Stripe subscription is created with a billing cycle anchor on the same day of month and
 *     time of day (Stripe prorates the first, shorter period: the customer pays for the days
 *     left, not a fresh month);
 *   - `carry_from` records the period start, and the usage reporter sends the consumer's units of
 *     [carry_from, created_at) (at most the new plan's quota) as a `carry_over` meter event, so
 *     Stripe's free tier counts what the period already used.
 * A granted trial is the one exception (Stripe cannot combine a trial with an anchor); a
 * consumer gets one trial per plan (see checkout), so it is not a way to reset the quota.
 */
export interface ContinuedPeriod {
  /** The consumer's anchor: day of month and time of day of every period boundary. */
  anchor: Date;
  /** The monthly period containing `now`, under that anchor. */
  period: Period;
}

type Reader = Pick<PrismaClient | Prisma.TransactionClient, 'subscription'>;

/** The consumer's anchor and current period, from its most recent subscription; null for a first one. */
export async function continuedPeriod(
  db: Reader,
  consumerId: string,
  now: Date,
): Promise<ContinuedPeriod | null> {
  const previous = await db.subscription.findFirst({
    where: { consumerId },
    orderBy: { createdAt: 'desc' },
    select: { billingAnchor: true, currentPeriodStart: true },
  });
  if (previous === null) return null;
  const anchor = billingAnchorOf(previous);
  return { anchor, period: periodContaining(anchor, 'month', now) };
}

/** The anchor, period and carry start of a subscription created now without Stripe. */
export async function localSubscriptionPeriod(
  db: Reader,
  consumerId: string,
  now: Date,
): Promise<{
  billingAnchor: Date;
  currentPeriodStart: Date;
  currentPeriodEnd: Date;
  carryFrom: Date | null;
}> {
  const continued = await continuedPeriod(db, consumerId, now);
  // A new anchor is a whole second, as Stripe's are.
  const anchor = continued?.anchor ?? new Date(Math.floor(now.getTime() / 1000) * 1000);
  const period = continued?.period ?? periodContaining(anchor, 'month', now);
  return {
    billingAnchor: anchor,
    currentPeriodStart: period.start,
    currentPeriodEnd: period.end,
    carryFrom: continued === null ? null : period.start,
  };
}

/** Stripe's billing_cycle_anchor_config for an anchor: same day of month and time of day (UTC). */
export function anchorConfig(anchor: Date) {
  return {
    day_of_month: anchor.getUTCDate(),
    hour: anchor.getUTCHours(),
    minute: anchor.getUTCMinutes(),
    second: anchor.getUTCSeconds(),
  };
}

/** Subscription metadata that tells the webhook which anchor and carry start a checkout kept. */
export const ANCHOR_METADATA = 'tollgate_billing_anchor';
export const CARRY_METADATA = 'tollgate_carry_from';

export function parseMetadataDate(value: string | null | undefined): Date | null {
  if (value === null || value === undefined || !/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.test(value)) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}
