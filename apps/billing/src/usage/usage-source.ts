import { type ClickHouseClient, sqlDateTime, sqlInt, sqlString } from '@tollgate/clickhouse';

/**
 * Exact billable usage from ClickHouse. usage_events_v1 is a ReplacingMergeTree on event_id, so
 * exact totals read it with FINAL (duplicates collapse at read time, merged or not).
 * A subscription's usage: the consumer's billable events stamped with the subscription id, or
 * with no subscription id ('' — the gateway had none in its snapshot) from the subscription's
 * creation on. A consumer has one live subscription at a time.
 */
function subscriptionFilter(q: {
  consumerId: string;
  subscriptionId: string;
  notBefore?: Date | undefined;
}): string {
  const since = q.notBefore === undefined ? '' : ` AND time >= ${sqlDateTime(q.notBefore)}`;
  return `consumer_id = ${sqlString(q.consumerId)}
      AND (subscription_id = ${sqlString(q.subscriptionId)} OR (subscription_id = ''${since}))
      AND billable = 1`;
}
export interface WindowUsage {
  windowStart: Date;
  units: bigint;
  requests: bigint;
}

export interface WindowQuery {
  consumerId: string;
  subscriptionId: string;
  from: Date;
  to: Date;
  windowSeconds: number;
  /** Windows start at `offsetSeconds + k * windowSeconds` (aligned to the billing anchor). */
  offsetSeconds: number;
  /** The subscription's creation: events without a subscription id count from here. */
  notBefore?: Date | undefined;
}

const big = (v: unknown): bigint => BigInt(String(v ?? 0));

export async function billableUnitsByWindow(ch: ClickHouseClient, q: WindowQuery): Promise<WindowUsage[]> {
  const w = sqlInt(q.windowSeconds);
  const off = sqlInt(q.offsetSeconds);
  const query = `
    SELECT intDiv(toUInt32(time) - ${off}, ${w}) * ${w} + ${off} AS window_start,
           sum(units) AS units, count() AS requests
    FROM usage_events_v1 FINAL
    WHERE ${subscriptionFilter(q)}
      AND time >= ${sqlDateTime(q.from)} AND time < ${sqlDateTime(q.to)}
    GROUP BY window_start
    ORDER BY window_start`;
  const rs = await ch.query({ query, format: 'JSONEachRow' });
  const rows = await rs.json<{ window_start: unknown; units: unknown; requests: unknown }>();
  return rows.map((r) => ({
    windowStart: new Date(Number(r.window_start) * 1000),
    units: big(r.units),
    requests: big(r.requests),
  }));
}

export interface SubscriptionTotals {
  /** Distinct billable event ids the gateway emitted (raw table, no merge needed). */
  admittedRequests: bigint;
  /** Units over those distinct events, each counted once. */
  admittedUnits: bigint;
  /** Raw rows, duplicates from redelivery included (diagnostic). */
  rawRows: bigint;
  /** Exact deduplicated totals (FINAL). */
  requests: bigint;
  units: bigint;
}

export async function subscriptionTotals(
  ch: ClickHouseClient,
  q: { consumerId: string; subscriptionId: string; from: Date; to: Date; notBefore?: Date | undefined },
): Promise<SubscriptionTotals> {
  const where = `${subscriptionFilter(q)}
      AND time >= ${sqlDateTime(q.from)} AND time < ${sqlDateTime(q.to)}`;
  const admitted = await ch.query({
    query: `SELECT uniqExact(event_id) AS admitted_requests, sum(u) AS admitted_units, sum(c) AS raw_rows
      FROM (SELECT event_id, any(units) AS u, count() AS c FROM usage_events_v1 WHERE ${where} GROUP BY event_id)`,
    format: 'JSONEachRow',
  });
  const exact = await ch.query({
    query: `SELECT count() AS requests, sum(units) AS units FROM usage_events_v1 FINAL WHERE ${where}`,
    format: 'JSONEachRow',
  });
  const [a] = await admitted.json<{
    admitted_requests: unknown;
    admitted_units: unknown;
    raw_rows: unknown;
  }>();
  const [e] = await exact.json<{ requests: unknown; units: unknown }>();
  return {
    admittedRequests: big(a?.admitted_requests),
    admittedUnits: big(a?.admitted_units),
    rawRows: big(a?.raw_rows),
    requests: big(e?.requests),
    units: big(e?.units),
  };
}
