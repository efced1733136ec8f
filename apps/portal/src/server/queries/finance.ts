import { priceForPeriod } from '@tollgate/core';
import { deps } from '../deps.ts';
import { metering } from '../services/metering.ts';

/** Reads ?from=YYYY-MM-DD&to=YYYY-MM-DD; defaults to the current calendar month (UTC). */
export function periodFromParams(from?: string, to?: string, now = new Date()) {
  const day = /^\d{4}-\d{2}-\d{2}$/;
  const start =
    from && day.test(from)
      ? new Date(`${from}T00:00:00Z`)
      : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end =
    to && day.test(to)
      ? new Date(`${to}T00:00:00Z`)
      : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start) {
    return periodFromParams(undefined, undefined, now);
  }
  return { from: start, to: end };
}

export interface RevenueByPlan {
  planId: string;
  planName: string;
  subscribers: number;
  units: number;
  flatCents: bigint;
  overageCents: bigint;
  totalCents: bigint;
  currency: string;
}

/** Revenue per plan for a period: each live subscription priced with its plan on its metered units. */
export async function revenueByPlan(from: Date, to: Date) {
  const subs = await deps().prisma.subscription.findMany({
    where: { status: { not: 'canceled' }, currentPeriodEnd: { gt: from }, createdAt: { lt: to } },
    include: { plan: true },
    take: 500,
  });
  const totals = await Promise.all(subs.map((s) => metering.totals(s.consumerId, from, to)));
  const byPlan = new Map<string, RevenueByPlan>();
  let error: string | null = null;
  subs.forEach((s, i) => {
    const t = totals[i]!;
    if (!t.ok) error ??= t.error;
    const units = t.ok ? Math.max(0, Math.floor(t.data.billableUnits)) : 0;
    const charge = priceForPeriod(s.plan, units);
    const row = byPlan.get(s.planId) ?? {
      planId: s.planId,
      planName: s.plan.name,
      subscribers: 0,
      units: 0,
      flatCents: 0n,
      overageCents: 0n,
      totalCents: 0n,
      currency: s.plan.currency,
    };
    row.subscribers += 1;
    row.units += units;
    row.flatCents += charge.flatCents;
    row.overageCents += charge.overageCents;
    row.totalCents += charge.totalCents;
    byPlan.set(s.planId, row);
  });
  return { rows: [...byPlan.values()].sort((a, b) => Number(b.totalCents - a.totalCents)), error };
}
