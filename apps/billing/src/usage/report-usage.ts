import { billingAnchorOf, periodContaining } from '@tollgate/core';
import type { BillingDeps } from '../deps.ts';
import { raiseDeadLetterAlert } from './dead-letter.ts';
import {
  closedThrough,
  earlier,
  later,
  revisionIdentifier,
  tooOldForStripe,
  windowOffsetSeconds,
  windowStartOf,
} from './windows.ts';

/**
 * Step 1 of usage reporting: turn closed windows into ledger rows (meter_reports, pending).
 *
 * For each subscription on a metered plan, the exact deduplicated ClickHouse total of every
 * closed window since the watermark, and of every window of the current period (the true-up;
 * also the previous period during Stripe's invoice finalization grace after a rollover),
 * is compared with what the ledger already holds for that window. A positive difference
 * becomes a new pending row: the window's base identifier `${subscriptionId}:${windowStartISO}`
 * the first time, `…:r<n>` for a late-event revision. Rows and the watermark advance in one
 * transaction. Windows Stripe would refuse (older than 35 days) become dead_letter + alert.
 * A subscription that continues the consumer's period (carry_from, see continued-period.ts) also
 * gets a carry_over row: the consumer's units of [carry_from, created_at), at most the plan's
 * quota, stamped at its creation (identifier `${subscriptionId}:carry`, revisions `…:r<n>` like
 * windows), so Stripe's free tier of the period counts what the period already used. It is within
 * the quota, so it is never billed itself.
 * Step 2 (send-meter-reports.ts) delivers pending rows.
 */
export interface PlannedReport {
  identifier: string;
  subscriptionId: string;
  windowStart: Date;
  windowEnd: Date;
  value: bigint;
  deadLetter: boolean;
  kind: 'usage' | 'carry_over';
}

export interface ReportUsageResult {
  subscriptions: number;
  created: PlannedReport[];
  negativeDeltas: number;
  /** Subscriptions whose planning failed this run (logged; retried next run). */
  failed: number;
}

const REPORTABLE_STATUSES = ['trialing', 'active', 'past_due', 'suspended', 'canceled'] as const;

export async function reportUsage(deps: BillingDeps): Promise<ReportUsageResult> {
  const now = deps.now();
  const subs = await findReportable(deps);
  const result: ReportUsageResult = { subscriptions: 0, created: [], negativeDeltas: 0, failed: 0 };
  for (const sub of subs) {
    try {
      const planned = await planSubscription(deps, sub, now, result);
      if (planned !== null) result.created.push(...planned);
    } catch (err) {
      // one subscription's failure (ClickHouse, a ledger race) never blocks the others
      result.failed += 1;
      deps.log.error(
        { err, subscriptionId: sub.id },
        'usage reporting failed for a subscription; retried next run',
      );
    }
  }
  return result;
}

type ReportableSubscription = Awaited<ReturnType<typeof findReportable>>[number];

function findReportable(deps: BillingDeps) {
  return deps.prisma.subscription.findMany({
    where: { status: { in: [...REPORTABLE_STATUSES] }, plan: { stripeMeterId: { not: null } } },
    include: { consumer: true, plan: { select: { quota: true } } },
  });
}

async function planSubscription(
  deps: BillingDeps,
  sub: ReportableSubscription,
  now: Date,
  result: ReportUsageResult,
): Promise<PlannedReport[] | null> {
  const { prisma, config } = deps;
  const meter = config.BILLING_METER_EVENT_NAME;
  const W = config.BILLING_USAGE_WINDOW_SECONDS;
  const customerId = sub.stripeCustomerId ?? sub.consumer.stripeCustomerId;
  if (customerId === null) return null;
  const offset = windowOffsetSeconds(sub.currentPeriodStart, W);
  const watermark = await prisma.billingWatermark.findUnique({
    where: { subscriptionId_meter: { subscriptionId: sub.id, meter } },
  });
  let to = closedThrough(now, config.BILLING_USAGE_LATENESS_SECONDS, W, offset);
  if (sub.status === 'canceled') to = earlier(to, sub.currentPeriodEnd);
  const firstWindow = windowStartOf(sub.createdAt, W, offset);
  const base = watermark?.reportedThrough ?? firstWindow;
  // True-up range: the current period; right after a rollover, while Stripe has not finalized
  // the previous invoice yet, the previous period (at most 31 days) too.
  const inInvoiceGrace =
    now.getTime() < sub.currentPeriodStart.getTime() + config.BILLING_INVOICE_GRACE_SECONDS * 1000;
  const trueUpFrom = inInvoiceGrace
    ? new Date(sub.currentPeriodStart.getTime() - 31 * 86_400_000)
    : sub.currentPeriodStart;
  const from = earlier(base, later(trueUpFrom, firstWindow));
  // The carry is due from the subscription's creation, before its first window closes.
  const carry = await planCarryOver(deps, sub, now);
  if (from >= to) {
    if (carry === null) return null;
    result.subscriptions += 1;
    return persistPlanned(deps, sub.id, [carry], null);
  }
  result.subscriptions += 1;

  const usage = await deps.usage.billableWindows({
    consumerId: sub.consumerId,
    subscriptionId: sub.id,
    from,
    to,
    windowSeconds: W,
    offsetSeconds: offset,
    notBefore: sub.createdAt,
  });
  const ledger = await prisma.meterReport.groupBy({
    by: ['windowStart'],
    where: { subscriptionId: sub.id, meter, kind: 'usage', windowStart: { gte: from, lt: to } },
    _sum: { value: true },
    _count: { _all: true },
  });
  const held = new Map(ledger.map((l) => [l.windowStart.getTime(), l]));

  const planned: PlannedReport[] = [];
  for (const window of usage) {
    // a window that began before `from` (anchor moved) is reported from `from`
    const windowStart = later(window.windowStart, from);
    const existing = held.get(windowStart.getTime());
    const reported = existing?._sum.value ?? 0n;
    const delta = window.units - reported;
    if (delta < 0n) {
      result.negativeDeltas += 1;
      deps.metrics.inc('tollgate_billing_usage_negative_delta_total');
      deps.log.warn(
        {
          subscriptionId: sub.id,
          windowStart: windowStart.toISOString(),
          reported: reported.toString(),
          clickhouse: window.units.toString(),
        },
        'ClickHouse total fell below the units already reported for a window',
      );
      continue;
    }
    if (delta === 0n) continue;
    planned.push({
      identifier: revisionIdentifier(sub.id, windowStart, existing?._count._all ?? 0),
      subscriptionId: sub.id,
      windowStart,
      windowEnd: new Date(window.windowStart.getTime() + W * 1000),
      value: delta,
      deadLetter: tooOldForStripe(windowStart, now),
      kind: 'usage',
    });
  }
  if (carry !== null) planned.push(carry);
  return persistPlanned(deps, sub.id, planned, { to, previous: watermark?.reportedThrough ?? null });
}

/** Ledger rows and the watermark advance in one transaction; dead letters raise their alert. */
async function persistPlanned(
  deps: BillingDeps,
  subscriptionId: string,
  planned: PlannedReport[],
  watermark: { to: Date; previous: Date | null } | null,
): Promise<PlannedReport[]> {
  const { prisma } = deps;
  const meter = deps.config.BILLING_METER_EVENT_NAME;
  await prisma.$transaction([
    prisma.meterReport.createMany({
      data: planned.map((p) => ({
        identifier: p.identifier,
        subscriptionId: p.subscriptionId,
        meter,
        windowStart: p.windowStart,
        windowEnd: p.windowEnd,
        value: p.value,
        kind: p.kind,
        status: p.deadLetter ? ('dead_letter' as const) : ('pending' as const),
        lastError: p.deadLetter ? 'too_old: older than Stripe accepts for meter events (35 days)' : null,
      })),
    }),
    ...(watermark === null
      ? []
      : [
          prisma.billingWatermark.upsert({
            where: { subscriptionId_meter: { subscriptionId, meter } },
            create: { subscriptionId, meter, reportedThrough: watermark.to },
            update: {
              reportedThrough:
                watermark.previous !== null && watermark.previous > watermark.to
                  ? watermark.previous
                  : watermark.to,
            },
          }),
        ]),
  ]);
  for (const p of planned) {
    if (p.deadLetter)
      await raiseDeadLetterAlert(deps, {
        identifier: p.identifier,
        subscriptionId: p.subscriptionId,
        windowStart: p.windowStart,
        value: p.value,
        reason: 'too_old: older than Stripe accepts for meter events (35 days)',
      });
  }
  return planned;
}

/**
 * The carry_over report a continuing subscription still needs: the consumer's billable units of
 * the period before the subscription started (capped at the plan's quota: units past it were
 * billed as overage on the previous subscription and are not counted twice), minus what earlier
 * carry_over rows already sent. Checked while the subscription's first period can still be
 * invoiced (its end plus Stripe's finalization grace); late events of the carried range become
 * revisions like any window's.
 */
async function planCarryOver(
  deps: BillingDeps,
  sub: ReportableSubscription,
  now: Date,
): Promise<PlannedReport | null> {
  if (sub.carryFrom === null) return null;
  const firstPeriod = periodContaining(billingAnchorOf(sub), 'month', sub.createdAt);
  // Only the period the subscription started in is carried (a checkout paid after the boundary
  // starts in the next one, whatever carry_from the session recorded).
  const from = later(sub.carryFrom, firstPeriod.start);
  if (from >= sub.createdAt) return null;
  if (now.getTime() >= firstPeriod.end.getTime() + deps.config.BILLING_INVOICE_GRACE_SECONDS * 1000)
    return null;
  const meter = deps.config.BILLING_METER_EVENT_NAME;
  const used = await deps.usage.consumerBillableUnits({
    consumerId: sub.consumerId,
    from,
    to: sub.createdAt,
  });
  const capped =
    sub.plan.quota === null ? used : used < BigInt(sub.plan.quota) ? used : BigInt(sub.plan.quota);
  const held = await deps.prisma.meterReport.aggregate({
    where: { subscriptionId: sub.id, meter, kind: 'carry_over' },
    _sum: { value: true },
    _count: { _all: true },
  });
  const delta = capped - (held._sum.value ?? 0n);
  if (delta <= 0n) return null;
  const revision = held._count._all;
  return {
    identifier: `${sub.id}:carry${revision === 0 ? '' : `:r${revision}`}`,
    subscriptionId: sub.id,
    windowStart: sub.createdAt,
    windowEnd: sub.createdAt,
    value: delta,
    deadLetter: tooOldForStripe(sub.createdAt, now),
    kind: 'carry_over',
  };
}
