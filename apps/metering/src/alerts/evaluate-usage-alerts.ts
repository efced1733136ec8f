import type { UsageStore } from '@tollgate/clickhouse';
import { quotaPeriodOf } from '@tollgate/core';
import type { PrismaClient } from '@tollgate/db';

/**
 * Raises quota alerts: when a subscription's exact billable units in the current quota period
 * reach 80, 95 or 100 % of the plan's quota, one row per (subscription, period, threshold) is
 * written to the usage_alerts outbox. `ON CONFLICT DO NOTHING` on that unique key makes this
 * idempotent: evaluating again, after a replay, or from two replicas never raises an alert
 * twice. Units come from the deduplicated raw table, so replayed events cannot inflate them.
 */
export const ALERT_THRESHOLDS = [80, 95, 100] as const;

/** Subscriptions that consume quota. */
const LIVE_STATUSES = ['active', 'trialing', 'past_due'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface RaisedAlert {
  consumerId: string;
  subscriptionId: string;
  periodStart: Date;
  threshold: number;
  usedUnits: number;
  quota: number;
}

export async function evaluateUsageAlerts(
  deps: { prisma: PrismaClient; usage: UsageStore; now: Date },
  consumerIds: Iterable<string>,
): Promise<RaisedAlert[]> {
  // Events may name consumers Postgres does not know (or not as a UUID): nothing to alert.
  const ids = [...new Set(consumerIds)].filter((id) => UUID.test(id));
  if (ids.length === 0) return [];
  const subscriptions = await deps.prisma.subscription.findMany({
    where: { consumerId: { in: ids }, status: { in: [...LIVE_STATUSES] } },
    include: { plan: true },
  });
  const raised: RaisedAlert[] = [];
  for (const sub of subscriptions) {
    const quota = sub.plan.quota;
    if (quota === null || quota <= 0) continue;
    const period = quotaPeriodOf(sub, sub.plan.quotaPeriod, deps.now);
    const { billableUnits } = await deps.usage.totals({
      consumerId: sub.consumerId,
      from: period.start,
      to: period.end,
    });
    for (const threshold of ALERT_THRESHOLDS) {
      if (billableUnits * 100 < quota * threshold) break;
      const inserted = await deps.prisma.$executeRaw`
        INSERT INTO usage_alerts (consumer_id, subscription_id, period_start, threshold, used_units, quota)
        VALUES (${sub.consumerId}::uuid, ${sub.id}::uuid, ${period.start}, ${threshold}, ${billableUnits}, ${quota})
        ON CONFLICT (subscription_id, period_start, threshold) DO NOTHING`;
      if (inserted > 0) {
        raised.push({
          consumerId: sub.consumerId,
          subscriptionId: sub.id,
          periodStart: period.start,
          threshold,
          usedUnits: billableUnits,
          quota,
        });
      }
    }
  }
  return raised;
}
