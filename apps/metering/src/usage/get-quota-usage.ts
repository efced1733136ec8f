import type { UsageStore } from '@tollgate/clickhouse';
import { quotaPeriodOf, TollgateError } from '@tollgate/core';
import type { PrismaClient } from '@tollgate/db';

/**
 * Current quota period usage for the portal: the consumer's live subscription (active,
 * trialing or past_due; the most recent if several) and its plan from Postgres, the period
 * containing `now` aligned to the subscription's billing anchor (quotaPeriodOf from core: monthly
 * or daily quotas), and exact billable units from ClickHouse. `quota` null means unlimited
 * (remaining and percent are then null too).
 */
export interface QuotaUsage {
  consumerId: string;
  subscriptionId: string;
  plan: string;
  periodStart: string;
  periodEnd: string;
  quota: number | null;
  used: number;
  remaining: number | null;
  percent: number | null;
}

export async function getQuotaUsage(
  deps: { prisma: PrismaClient; usage: UsageStore; now: Date },
  consumerId: string,
): Promise<QuotaUsage> {
  const sub = await deps.prisma.subscription.findFirst({
    where: { consumerId, status: { in: ['active', 'trialing', 'past_due'] } },
    orderBy: { createdAt: 'desc' },
    include: { plan: true },
  });
  if (sub === null) {
    throw new TollgateError('not_found', 'NO_SUBSCRIPTION', 'The consumer has no live subscription.');
  }
  const period = quotaPeriodOf(sub, sub.plan.quotaPeriod, deps.now);
  const { billableUnits } = await deps.usage.totals({ consumerId, from: period.start, to: period.end });
  const quota = sub.plan.quota;
  return {
    consumerId,
    subscriptionId: sub.id,
    plan: sub.plan.slug,
    periodStart: period.start.toISOString(),
    periodEnd: period.end.toISOString(),
    quota,
    used: billableUnits,
    remaining: quota === null ? null : Math.max(0, quota - billableUnits),
    percent: quota === null ? null : quota === 0 ? 100 : Math.round((billableUnits / quota) * 10_000) / 100,
  };
}
