import type { UsageReader, UsageTotals } from '@tollgate/core';
import type { SqlRunner } from '../sql-runner.ts';
import {
  type AdmittedRow,
  admittedSql,
  billableWindowsSql,
  bucketToIso,
  type ConsumerCounterRow,
  type CounterRow,
  consumerTotalsSql,
  type Granularity,
  type GroupBy,
  type LatencyRow,
  latencySql,
  type RollupGroupBy,
  rollupTimeseriesSql,
  type SubscriptionScope,
  type SubscriptionTotalsRow,
  subscriptionTotalsSql,
  type TimeRange,
  type TimeseriesRow,
  timeseriesSql,
  totalsSql,
  type WindowRow,
} from './usage-sql.ts';

/**
 * The one owner of usage_events_v1 reads: runs the queries of usage-sql.ts (one dedup rule, one
 * attribution rule) and turns rows into plain values. Metering's counters are numbers
 * (ClickHouse renders 64-bit integers as JSON strings; counts stay far below 2^53 so Number()
 * is exact); billing's units are bigints, as its ledger keeps them.
 */
function counters(row: CounterRow | undefined): UsageTotals {
  return {
    requests: Number(row?.requests ?? 0),
    billableUnits: Number(row?.billable_units ?? 0),
    errors: Number(row?.errors ?? 0),
  };
}

export interface TimeseriesPoint extends UsageTotals {
  bucket: string;
  group: string | null;
}

export interface RouteLatency {
  apiId: string;
  routeId: string;
  requests: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface ConsumerTotals extends UsageTotals {
  consumerId: string;
}

export interface WindowUsage {
  windowStart: Date;
  units: bigint;
  requests: bigint;
}

export interface SubscriptionTotals {
  /** Distinct billable event ids the gateway emitted (raw table, no merge needed). */
  admittedRequests: bigint;
  /** Units over those distinct events, each counted once. */
  admittedUnits: bigint;
  /** Raw rows, duplicates from redelivery included (diagnostic). */
  rawRows: bigint;
  /** Exact deduplicated totals: the number billing reads. */
  requests: bigint;
  units: bigint;
}

export interface UsageStore extends UsageReader {
  totals(q: { consumerId: string } & TimeRange): Promise<UsageTotals>;
  timeseries(
    q: { consumerId: string; granularity: Granularity; groupBy?: GroupBy | undefined } & TimeRange,
  ): Promise<TimeseriesPoint[]>;
  /** Approximate series from the rollup tables, for dashboards over long ranges. */
  rollupTimeseries(
    q: { consumerId: string; granularity: Granularity; groupBy?: RollupGroupBy | undefined } & TimeRange,
  ): Promise<TimeseriesPoint[]>;
  latency(q: { consumerId: string } & TimeRange): Promise<RouteLatency[]>;
  /** Every consumer with usage in the range, ordered by id, streamed. */
  consumerTotals(range: TimeRange): AsyncIterable<ConsumerTotals>;
  /** A subscription's billable units per window (windows start at offset + k * window). */
  billableWindows(
    q: SubscriptionScope & TimeRange & { windowSeconds: number; offsetSeconds: number },
  ): Promise<WindowUsage[]>;
  /** A subscription's exact totals and what the gateway emitted for it (reconciliation). */
  subscriptionTotals(q: SubscriptionScope & TimeRange): Promise<SubscriptionTotals>;
  /** The consumer's billable units over the range, whatever subscription they were on. */
  consumerBillableUnits(q: { consumerId: string } & TimeRange): Promise<bigint>;
}

const big = (v: unknown): bigint => BigInt(String(v ?? 0));

export function createUsageStore(runner: SqlRunner): UsageStore {
  return {
    async totals({ consumerId, from, to }) {
      const rows = await runner.rows<CounterRow>(totalsSql(consumerId, { from, to }));
      return counters(rows[0]);
    },
    async timeseries({ consumerId, from, to, granularity, groupBy }) {
      const rows = await runner.rows<TimeseriesRow>(
        timeseriesSql(consumerId, { from, to }, granularity, groupBy),
      );
      return rows.map((row) => ({
        bucket: bucketToIso(granularity, row.bucket),
        group: groupBy === undefined ? null : row.grp,
        ...counters(row),
      }));
    },
    async rollupTimeseries({ consumerId, from, to, granularity, groupBy }) {
      const rows = await runner.rows<TimeseriesRow & { b: string }>(
        rollupTimeseriesSql(consumerId, { from, to }, granularity, groupBy),
      );
      return rows.map((row) => ({
        bucket: bucketToIso(granularity, row.b),
        group: groupBy === undefined ? null : row.grp,
        ...counters(row),
      }));
    },
    async latency({ consumerId, from, to }) {
      const rows = await runner.rows<LatencyRow>(latencySql(consumerId, { from, to }));
      return rows.map((row) => ({
        apiId: row.api_id,
        routeId: row.route_id,
        requests: Number(row.requests),
        p50: Number(row.q[0]),
        p95: Number(row.q[1]),
        p99: Number(row.q[2]),
      }));
    },
    async *consumerTotals(range) {
      for await (const row of runner.stream<ConsumerCounterRow>(consumerTotalsSql(range))) {
        yield { consumerId: row.consumer_id, ...counters(row) };
      }
    },
    async billableWindows({ from, to, windowSeconds, offsetSeconds, ...scope }) {
      const rows = await runner.rows<WindowRow>(
        billableWindowsSql(scope, { from, to }, windowSeconds, offsetSeconds),
      );
      return rows.map((r) => ({
        windowStart: new Date(Number(r.window_start) * 1000),
        units: big(r.units),
        requests: big(r.requests),
      }));
    },
    async subscriptionTotals({ from, to, ...scope }) {
      const [[a], [e]] = await Promise.all([
        runner.rows<AdmittedRow>(admittedSql(scope, { from, to })),
        runner.rows<SubscriptionTotalsRow>(subscriptionTotalsSql(scope, { from, to })),
      ]);
      return {
        admittedRequests: big(a?.admitted_requests),
        admittedUnits: big(a?.admitted_units),
        rawRows: big(a?.raw_rows),
        requests: big(e?.requests),
        units: big(e?.units),
      };
    },
    async consumerBillableUnits({ consumerId, from, to }) {
      const rows = await runner.rows<CounterRow>(totalsSql(consumerId, { from, to }));
      return big(rows[0]?.billable_units);
    },
  };
}
