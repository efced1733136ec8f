import { priceForPeriod } from '@tollgate/core';
import type { Plan } from '@tollgate/db/client';
import { deps } from '../deps.ts';
import { metering } from '../services/metering.ts';

export interface PlanPreviewRow {
  consumerId: string;
  consumerName: string;
  currentPlan: string;
  units: number;
  currentCents: bigint | null;
  wouldCents: bigint;
  currency: string;
}

/** The previous calendar month (UTC). */
export function lastPeriod(now = new Date()) {
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return { from, to };
}

/**
 * What `plan` would have billed each subscribed consumer last period, from their real usage
 * (metering totals × priceForPeriod), next to what their own plan billed.
 */
export async function previewPlanBilling(plan: Plan, limit = 25) {
  const { from, to } = lastPeriod();
  const subs = await deps().prisma.subscription.findMany({
    where: { status: { not: 'canceled' } },
    include: { plan: true, consumer: { select: { name: true } } },
    orderBy: { createdAt: 'desc' },
    take: limit,
  });
  const rows: PlanPreviewRow[] = [];
  let error: string | null = null;
  const totals = await Promise.all(subs.map((s) => metering.totals(s.consumerId, from, to)));
  subs.forEach((s, i) => {
    const t = totals[i]!;
    if (!t.ok) {
      error ??= t.error;
      return;
    }
    const units = Math.max(0, Math.floor(t.data.billableUnits));
    rows.push({
      consumerId: s.consumerId,
      consumerName: s.consumer.name,
      currentPlan: s.plan.name,
      units,
      currentCents: priceForPeriod(s.plan, units).totalCents,
      wouldCents: priceForPeriod(plan, units).totalCents,
      currency: plan.currency,
    });
  });
  return { from, to, rows, error };
}
