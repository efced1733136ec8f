import type { BillingDeps } from '../deps.ts';
import { raiseDeadLetterAlert } from './dead-letter.ts';
import { billableUnitsByWindow } from './usage-source.ts';
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
 * Step 2 (send-meter-reports.ts) delivers pending rows.
 */
export interface PlannedReport {
  identifier: string;
  subscriptionId: string;
  windowStart: Date;
  windowEnd: Date;
  value: bigint;
  deadLetter: boolean;
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
    include: { consumer: true },
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
  if (from >= to) return null;
  result.subscriptions += 1;

  const usage = await billableUnitsByWindow(deps.clickhouse, {
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
    where: { subscriptionId: sub.id, meter, windowStart: { gte: from, lt: to } },
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
    });
  }

  await prisma.$transaction([
    prisma.meterReport.createMany({
      data: planned.map((p) => ({
        identifier: p.identifier,
        subscriptionId: p.subscriptionId,
        meter,
        windowStart: p.windowStart,
        windowEnd: p.windowEnd,
        value: p.value,
        status: p.deadLetter ? ('dead_letter' as const) : ('pending' as const),
        lastError: p.deadLetter ? 'too_old: older than Stripe accepts for meter events (35 days)' : null,
      })),
    }),
    prisma.billingWatermark.upsert({
      where: { subscriptionId_meter: { subscriptionId: sub.id, meter } },
      create: { subscriptionId: sub.id, meter, reportedThrough: to },
      update: {
        reportedThrough: watermark && watermark.reportedThrough > to ? watermark.reportedThrough : to,
      },
    }),
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
