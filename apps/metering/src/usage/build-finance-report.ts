import type { TimeRange, UsageStore } from '@tollgate/clickhouse';
import { priceForPeriod } from '@tollgate/core';
import type { PrismaClient } from '@tollgate/db';
import { csvNumber, csvRecord, csvText } from './csv.ts';

/**
 * The finance report for a billing period: every consumer Postgres knows plus every consumer
 * id that has usage in the period (usage is never dropped from the report for lack of a
 * matching account), with exact deduplicated counters and the amount priceForPeriod (core)
 * gives for the plan of its subscription. The plan is the consumer's most recent subscription
 * that is not `incomplete` (canceled ones included: a canceled month is still billed); a
 * consumer without one has no plan and an amount of 0.
 */
export interface FinanceReportRow {
  consumerId: string;
  consumerName: string | null;
  plan: string | null;
  requests: number;
  billableUnits: number;
  errors: number;
  amountCents: number;
  currency: string | null;
}

export const FINANCE_CSV_COLUMNS = [
  'consumer_id',
  'consumer_name',
  'plan',
  'requests',
  'billable_units',
  'errors',
  'amount_cents',
  'currency',
] as const;

type PlanRow = Awaited<ReturnType<PrismaClient['plan']['findFirstOrThrow']>>;

async function loadAccounts(prisma: PrismaClient) {
  const consumers = await prisma.consumer.findMany({
    select: {
      id: true,
      name: true,
      subscriptions: {
        where: { status: { not: 'incomplete' } },
        orderBy: { createdAt: 'desc' },
        take: 1,
        include: { plan: true },
      },
    },
    orderBy: { id: 'asc' },
  });
  return new Map(
    consumers.map((c) => [
      c.id,
      { name: c.name, plan: (c.subscriptions[0]?.plan ?? null) as PlanRow | null },
    ]),
  );
}

function toRow(
  consumerId: string,
  account: { name: string; plan: PlanRow | null } | undefined,
  counters: { requests: number; billableUnits: number; errors: number },
): FinanceReportRow {
  const plan = account?.plan ?? null;
  const amountCents = plan === null ? 0 : Number(priceForPeriod(plan, counters.billableUnits).totalCents);
  return {
    consumerId,
    consumerName: account?.name ?? null,
    plan: plan?.slug ?? null,
    ...counters,
    amountCents,
    currency: plan?.currency ?? null,
  };
}

/** Consumers with usage first (ClickHouse order, by id, streamed), then the accounts without usage. */
export async function* financeReportRows(
  deps: { prisma: PrismaClient; usage: UsageStore },
  range: TimeRange,
): AsyncGenerator<FinanceReportRow> {
  const accounts = await loadAccounts(deps.prisma);
  const withUsage = new Set<string>();
  for await (const totals of deps.usage.consumerTotals(range)) {
    withUsage.add(totals.consumerId);
    const { consumerId, ...counters } = totals;
    yield toRow(consumerId, accounts.get(consumerId), counters);
  }
  for (const [consumerId, account] of accounts) {
    if (withUsage.has(consumerId)) continue;
    yield toRow(consumerId, account, { requests: 0, billableUnits: 0, errors: 0 });
  }
}

export function financeCsvHeader(): string {
  return csvRecord([...FINANCE_CSV_COLUMNS]);
}

export function financeCsvRecord(row: FinanceReportRow): string {
  return csvRecord([
    csvText(row.consumerId),
    csvText(row.consumerName),
    csvText(row.plan),
    csvNumber(row.requests),
    csvNumber(row.billableUnits),
    csvNumber(row.errors),
    csvNumber(row.amountCents),
    csvText(row.currency),
  ]);
}
