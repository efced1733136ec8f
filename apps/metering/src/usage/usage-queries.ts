import type { SqlRunner } from '@tollgate/clickhouse';
import type { UsageReader, UsageTotals } from '@tollgate/core';
import {
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
  type TimeRange,
  type TimeseriesRow,
  timeseriesSql,
  totalsSql,
} from './usage-sql.ts';

/**
 * Runs the queries of usage-sql.ts and turns rows into plain numbers. ClickHouse renders
 * 64-bit integers as JSON strings; counts stay far below 2^53 so Number() is exact.
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

export interface UsageQueries extends UsageReader {
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
}

export function createUsageQueries(runner: SqlRunner): UsageQueries {
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
  };
}
