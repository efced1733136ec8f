import { sqlDateTime, sqlInt, sqlString } from '../sql.ts';

/**
 * Every query of usage_events_v1, as SQL text: the usage API, alerts and finance report of
 * metering, and the billable windows, subscription totals and carry-over of billing. Values
 * enter only through sqlString / sqlInt / sqlDateTime (../sql.ts); the few identifiers and
 * expressions chosen by a parameter (granularity, groupBy) come from the fixed maps below,
 * never from input.
 *
 * Exactness: Kafka delivers at least once, so usage_events_v1 may hold an event more than once
 * until ReplacingMergeTree merges the copies (and merges are never guaranteed to have run).
 * Every query here therefore reads the raw table through `dedupedEvents`: GROUP BY event_id
 * with argMax(column, ingested_at), the row ReplacingMergeTree itself would keep. That gives
 * exact totals on ClickHouse 18.16 and on current ClickHouse alike (FINAL would too; GROUP BY
 * was chosen because it behaves the same on both and parallelises on 18.16). The rollup tables
 * (migration 0002) count copies before they merge and are for dashboards only.
 *
 * Columns of the deduplicated rows are aliased `e_*` so an alias never shadows a source column
 * (ClickHouse resolves aliases across the whole query and would otherwise find cycles).
 */
export interface TimeRange {
  from: Date;
  to: Date;
}

/** errors: every request answered with status 400 or above (gateway rejections included). */
const ERROR_STATUS = 400;

const DEDUP_COLUMNS = {
  e_consumer: 'consumer_id',
  e_api: 'api_id',
  e_route: 'route_id',
  e_key: 'key_id',
  e_status: 'status',
  e_latency: 'latency_ms',
  e_billable_units: 'billable * units',
  e_time: 'time',
  e_subscription: 'subscription_id',
  e_billable: 'billable',
  e_units: 'units',
} as const;
type DedupColumn = keyof typeof DEDUP_COLUMNS;

function rangeFilter(range: TimeRange): string {
  return `time >= ${sqlDateTime(range.from)} AND time < ${sqlDateTime(range.to)}`;
}

/** One row per distinct event id in the filter, with the chosen columns of its latest copy. */
function dedupedEvents(columns: readonly DedupColumn[], where: string): string {
  const selected = columns.map((alias) => `argMax(${DEDUP_COLUMNS[alias]}, ingested_at) AS ${alias}`);
  return `SELECT event_id, ${selected.join(', ')} FROM usage_events_v1 WHERE ${where} GROUP BY event_id`;
}

const COUNTERS = `count() AS requests, sum(e_billable_units) AS billable_units, countIf(e_status >= ${ERROR_STATUS}) AS errors`;

export interface CounterRow {
  requests: number | string;
  billable_units: number | string;
  errors: number | string;
}

export function totalsSql(consumerId: string, range: TimeRange): string {
  const where = `consumer_id = ${sqlString(consumerId)} AND ${rangeFilter(range)}`;
  return `SELECT ${COUNTERS} FROM (${dedupedEvents(['e_billable_units', 'e_status'], where)})`;
}

export const GRANULARITIES = ['hour', 'day', 'month'] as const;
export type Granularity = (typeof GRANULARITIES)[number];
export const GROUP_BYS = ['api', 'route', 'key', 'status'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/**
 * Hour and day buckets as Unix seconds; month buckets as the 'YYYY-MM-DD' of the month's first
 * day (toStartOfMonth returns a Date, whose conversion to DateTime would depend on the server's
 * time zone). Times are UTC: the column type is DateTime('UTC').
 */
const BUCKET_EXPR: Record<Granularity, string> = {
  hour: 'toString(toUInt32(toStartOfHour(e_time)))',
  day: 'toString(toUInt32(toStartOfDay(e_time)))',
  month: 'toString(toStartOfMonth(e_time))',
};

const GROUP_EXPR: Record<GroupBy, string> = {
  api: 'e_api',
  route: 'e_route',
  key: 'e_key',
  status: 'toString(e_status)',
};

export interface TimeseriesRow extends CounterRow {
  bucket: string;
  grp: string;
}

export function timeseriesSql(
  consumerId: string,
  range: TimeRange,
  granularity: Granularity,
  groupBy: GroupBy | undefined,
): string {
  const where = `consumer_id = ${sqlString(consumerId)} AND ${rangeFilter(range)}`;
  const columns: DedupColumn[] = ['e_time', 'e_billable_units', 'e_status'];
  if (groupBy === 'api') columns.push('e_api');
  if (groupBy === 'route') columns.push('e_route');
  if (groupBy === 'key') columns.push('e_key');
  const group = groupBy === undefined ? "''" : GROUP_EXPR[groupBy];
  return (
    `SELECT ${BUCKET_EXPR[granularity]} AS bucket, ${group} AS grp, ${COUNTERS} ` +
    `FROM (${dedupedEvents(columns, where)}) GROUP BY bucket, grp ORDER BY bucket, grp`
  );
}

/** Bucket text from timeseriesSql to an ISO timestamp. */
export function bucketToIso(granularity: Granularity, bucket: string): string {
  if (granularity === 'month') return new Date(`${bucket}T00:00:00.000Z`).toISOString();
  return new Date(Number(bucket) * 1000).toISOString();
}

export interface LatencyRow {
  api_id: string;
  route_id: string;
  requests: number | string;
  q: (number | string)[];
}

/**
 * Latency percentiles per route. quantilesExact (not the sampling `quantile`) so the figures are
 * exact and identical on every ClickHouse version: it returns the value at rank floor(level * n).
 */
export function latencySql(consumerId: string, range: TimeRange): string {
  const where = `consumer_id = ${sqlString(consumerId)} AND ${rangeFilter(range)}`;
  return (
    'SELECT e_api AS api_id, e_route AS route_id, count() AS requests, ' +
    'quantilesExact(0.5, 0.95, 0.99)(e_latency) AS q ' +
    `FROM (${dedupedEvents(['e_api', 'e_route', 'e_latency'], where)}) ` +
    'GROUP BY api_id, route_id ORDER BY api_id, route_id'
  );
}

export interface ConsumerCounterRow extends CounterRow {
  consumer_id: string;
}

/** Exact counters of every consumer with usage in the range, ordered by consumer id. */
export function consumerTotalsSql(range: TimeRange): string {
  return (
    `SELECT e_consumer AS consumer_id, ${COUNTERS} ` +
    `FROM (${dedupedEvents(['e_consumer', 'e_billable_units', 'e_status'], rangeFilter(range))}) ` +
    'GROUP BY consumer_id ORDER BY consumer_id'
  );
}

/** Count of distinct event ids in a range: the yardstick reports are checked against. */
export function distinctEventsSql(range: TimeRange): string {
  return `SELECT uniqExact(event_id) AS events FROM usage_events_v1 WHERE ${rangeFilter(range)}`;
}

export const ROLLUP_GROUP_BYS = ['api', 'route', 'status'] as const;
export type RollupGroupBy = (typeof ROLLUP_GROUP_BYS)[number];

const ROLLUP_SOURCE: Record<Granularity, { table: string; bucket: string }> = {
  hour: { table: 'usage_rollup_hourly_v1', bucket: 'toString(toUInt32(bucket))' },
  day: { table: 'usage_rollup_daily_v1', bucket: 'toString(toUInt32(bucket))' },
  month: { table: 'usage_rollup_daily_v1', bucket: 'toString(toStartOfMonth(bucket))' },
};

const ROLLUP_GROUP_EXPR: Record<RollupGroupBy, string> = {
  api: 'api_id',
  route: 'route_id',
  status: 'toString(status)',
};

/**
 * The dashboard time series from the rollup tables (migration 0002): cheap over long ranges,
 * but APPROXIMATE — redelivered events are counted again (see the migration). A rollup bucket
 * is included when its start lies in [from, to). No key dimension: the rollups do not keep it.
 */
export function rollupTimeseriesSql(
  consumerId: string,
  range: TimeRange,
  granularity: Granularity,
  groupBy: RollupGroupBy | undefined,
): string {
  const source = ROLLUP_SOURCE[granularity];
  const group = groupBy === undefined ? "''" : ROLLUP_GROUP_EXPR[groupBy];
  return (
    `SELECT ${source.bucket} AS b, ${group} AS grp, sum(requests) AS requests, ` +
    'sum(billable_units) AS billable_units, sum(errors) AS errors ' +
    `FROM ${source.table} WHERE consumer_id = ${sqlString(consumerId)} ` +
    `AND bucket >= ${sqlDateTime(range.from)} AND bucket < ${sqlDateTime(range.to)} ` +
    'GROUP BY b, grp ORDER BY b, grp'
  );
}

/**
 * Attribution: a subscription's usage is the consumer's billable events stamped with the
 * subscription id, or stamped with none ('' — the gateway had no subscription in its snapshot)
 * from the subscription's creation on. A consumer has one live subscription at a time. The rule
 * is applied to the latest copy of each event (the deduplicated row), never to raw rows.
 */
export interface SubscriptionScope {
  consumerId: string;
  subscriptionId: string;
  /** The subscription's creation: events without a subscription id count from here. */
  notBefore?: Date | undefined;
}

function attributedTo(scope: SubscriptionScope): string {
  const since = scope.notBefore === undefined ? '' : ` AND e_time >= ${sqlDateTime(scope.notBefore)}`;
  return (
    `e_billable = 1 AND (e_subscription = ${sqlString(scope.subscriptionId)} ` +
    `OR (e_subscription = ''${since}))`
  );
}

const ATTRIBUTION_COLUMNS: DedupColumn[] = ['e_time', 'e_subscription', 'e_billable', 'e_units'];

function consumerRange(consumerId: string, range: TimeRange): string {
  return `consumer_id = ${sqlString(consumerId)} AND ${rangeFilter(range)}`;
}

export interface WindowRow {
  window_start: number | string;
  units: number | string;
  requests: number | string;
}

/**
 * A subscription's billable units per window for Stripe: windows start at
 * `offsetSeconds + k * windowSeconds` (aligned to the billing anchor).
 */
export function billableWindowsSql(
  scope: SubscriptionScope,
  range: TimeRange,
  windowSeconds: number,
  offsetSeconds: number,
): string {
  const w = sqlInt(windowSeconds);
  const off = sqlInt(offsetSeconds);
  return (
    `SELECT intDiv(toUInt32(e_time) - ${off}, ${w}) * ${w} + ${off} AS window_start, ` +
    'sum(e_units) AS units, count() AS requests ' +
    `FROM (${dedupedEvents(ATTRIBUTION_COLUMNS, consumerRange(scope.consumerId, range))}) ` +
    `WHERE ${attributedTo(scope)} GROUP BY window_start ORDER BY window_start`
  );
}

export interface SubscriptionTotalsRow {
  requests: number | string;
  units: number | string;
}

/** A subscription's exact billable requests and units over the range (the number billed). */
export function subscriptionTotalsSql(scope: SubscriptionScope, range: TimeRange): string {
  return (
    'SELECT count() AS requests, sum(e_units) AS units ' +
    `FROM (${dedupedEvents(ATTRIBUTION_COLUMNS, consumerRange(scope.consumerId, range))}) ` +
    `WHERE ${attributedTo(scope)}`
  );
}

export interface AdmittedRow {
  admitted_requests: number | string;
  admitted_units: number | string;
  raw_rows: number | string;
}

/**
 * What the gateway emitted for the subscription, from raw rows before any dedup: distinct event
 * ids, their units (one copy each) and the raw row count, redelivered copies included. The
 * reconciliation compares it with subscriptionTotalsSql.
 */
export function admittedSql(scope: SubscriptionScope, range: TimeRange): string {
  const since = scope.notBefore === undefined ? '' : ` AND time >= ${sqlDateTime(scope.notBefore)}`;
  const where =
    `${consumerRange(scope.consumerId, range)} AND billable = 1 AND ` +
    `(subscription_id = ${sqlString(scope.subscriptionId)} OR (subscription_id = ''${since}))`;
  return (
    'SELECT uniqExact(event_id) AS admitted_requests, sum(u) AS admitted_units, sum(c) AS raw_rows ' +
    `FROM (SELECT event_id, any(units) AS u, count() AS c FROM usage_events_v1 WHERE ${where} GROUP BY event_id)`
  );
}
