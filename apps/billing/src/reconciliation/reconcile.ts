import type { BillingDeps } from '../deps.ts';
import { earlier } from '../usage/windows.ts';

/**
 * Reconciliation per subscription over [from, to):
 * - gateway: billable requests the gateway admitted = distinct event ids it emitted (raw
 *   table, before any merge; duplicates from at-least-once delivery counted once), and their units;
 * - clickhouse: the exact deduplicated total (the usage store's), the number billing reads;
 * - stripe: units sent as meter events for windows starting in [from, to) (ledger rows `sent`),
 *   plus pending and dead-lettered units.
 * Drift is flagged when gateway ≠ clickhouse, or when clickhouse up to the reporting watermark
 * (windows already closed and reported) ≠ sent + pending, beyond BILLING_DRIFT_TOLERANCE_UNITS;
 * and whenever anything is dead-lettered. Carried units (carry_over rows: the period's usage
 * before the subscription started, see report-usage.ts) are listed apart: they are not this
 * subscription's usage.
 */
export interface ReconciliationRow {
  subscriptionId: string;
  consumerId: string;
  planId: string;
  status: string;
  gateway: { admittedRequests: number; admittedUnits: number; rawRows: number };
  clickhouse: { requests: number; units: number; unitsThroughWatermark: number };
  stripe: {
    sentUnits: number;
    pendingUnits: number;
    deadLetterUnits: number;
    carriedUnits: number;
    reportedThrough: string | null;
  };
  drift: { gatewayVsClickhouse: number; clickhouseVsStripe: number; flagged: boolean; reasons: string[] };
}

export async function reconcile(deps: BillingDeps, from: Date, to: Date): Promise<ReconciliationRow[]> {
  const meter = deps.config.BILLING_METER_EVENT_NAME;
  const subs = await deps.prisma.subscription.findMany({
    where: { currentPeriodEnd: { gt: from }, createdAt: { lt: to }, status: { not: 'incomplete' } },
    include: { plan: true },
    orderBy: { createdAt: 'asc' },
  });
  const rows: ReconciliationRow[] = [];
  for (const sub of subs) {
    const totals = await deps.usage.subscriptionTotals({
      consumerId: sub.consumerId,
      subscriptionId: sub.id,
      from,
      to,
      notBefore: sub.createdAt,
    });
    const watermark = await deps.prisma.billingWatermark.findUnique({
      where: { subscriptionId_meter: { subscriptionId: sub.id, meter } },
    });
    const through = watermark === null ? from : earlier(watermark.reportedThrough, to);
    const reportable =
      through > from
        ? (
            await deps.usage.subscriptionTotals({
              consumerId: sub.consumerId,
              subscriptionId: sub.id,
              from,
              to: through,
              notBefore: sub.createdAt,
            })
          ).units
        : 0n;
    const ledger = await deps.prisma.meterReport.groupBy({
      by: ['status', 'kind'],
      where: { subscriptionId: sub.id, windowStart: { gte: from, lt: to } },
      _sum: { value: true },
    });
    const sum = (status: string) =>
      Number(ledger.find((l) => l.status === status && l.kind === 'usage')?._sum.value ?? 0n);
    const carried = ledger
      .filter((l) => l.kind === 'carry_over')
      .reduce((total, l) => total + Number(l._sum.value ?? 0n), 0);
    const sent = sum('sent');
    const pending = sum('pending');
    const dead = sum('dead_letter');
    const metered = sub.plan.stripeMeterId !== null;
    const gatewayVsClickhouse = Number(totals.admittedUnits - totals.units);
    const clickhouseVsStripe = metered ? Number(reportable) - sent - pending - dead : 0;
    const tolerance = deps.config.BILLING_DRIFT_TOLERANCE_UNITS;
    const reasons: string[] = [];
    if (Math.abs(gatewayVsClickhouse) > tolerance)
      reasons.push('gateway admitted units differ from the ClickHouse exact total');
    if (Math.abs(clickhouseVsStripe) > tolerance)
      reasons.push('units reported to Stripe differ from ClickHouse for reported windows');
    if (dead > 0) reasons.push('usage in dead letter (not billed)');
    rows.push({
      subscriptionId: sub.id,
      consumerId: sub.consumerId,
      planId: sub.planId,
      status: sub.status,
      gateway: {
        admittedRequests: Number(totals.admittedRequests),
        admittedUnits: Number(totals.admittedUnits),
        rawRows: Number(totals.rawRows),
      },
      clickhouse: {
        requests: Number(totals.requests),
        units: Number(totals.units),
        unitsThroughWatermark: Number(reportable),
      },
      stripe: {
        sentUnits: sent,
        pendingUnits: pending,
        deadLetterUnits: dead,
        carriedUnits: carried,
        reportedThrough: watermark?.reportedThrough.toISOString() ?? null,
      },
      drift: { gatewayVsClickhouse, clickhouseVsStripe, flagged: reasons.length > 0, reasons },
    });
  }
  return rows;
}
