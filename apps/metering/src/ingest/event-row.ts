import type { UsageEventV1 } from '@tollgate/core';

/** One row of usage_events_v1 (migrations/clickhouse/0001_usage_events.sql), as JSONEachRow. */
export interface UsageEventRow {
  event_id: string;
  /** 'YYYY-MM-DD hh:mm:ss' in UTC: the column is DateTime('UTC'). */
  time: string;
  time_ms: number;
  source: string;
  consumer_id: string;
  key_id: string;
  plan_id: string;
  subscription_id: string;
  api_id: string;
  route_id: string;
  method: string;
  status: number;
  bytes_in: number;
  bytes_out: number;
  latency_ms: number;
  units: number;
  billable: 0 | 1;
  ingested_at: string;
}

const UINT32_MAX = 4_294_967_295;

/** A Date as ClickHouse's DateTime text in UTC, seconds precision. */
export function clickhouseDateTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

export type RowResult = { ok: true; row: UsageEventRow } | { ok: false; reason: string };

/**
 * Maps a parsed event to its row. Events the schema accepts but the table cannot hold (a time
 * outside DateTime's range, units beyond UInt32) are refused here with a reason and go to the
 * dead-letter topic: an insert that can never succeed must not stall its partition.
 */
export function toUsageEventRow(event: UsageEventV1, ingestedAt: Date): RowResult {
  // The schema guarantees `YYYY-MM-DDThh:mm:ss.mmmZ`.
  const year = Number(event.time.slice(0, 4));
  if (year < 1971 || year > 2105) return { ok: false, reason: `time out of range: ${event.time}` };
  const d = event.data;
  if (d.units > UINT32_MAX) return { ok: false, reason: `units out of range: ${d.units}` };
  if (!Number.isSafeInteger(d.bytesIn) || !Number.isSafeInteger(d.bytesOut)) {
    return { ok: false, reason: 'bytes out of range' };
  }
  return {
    ok: true,
    row: {
      event_id: event.id,
      time: `${event.time.slice(0, 10)} ${event.time.slice(11, 19)}`,
      time_ms: Number(event.time.slice(20, 23)),
      source: event.source,
      consumer_id: d.consumerId,
      key_id: d.keyId ?? '',
      plan_id: d.planId ?? '',
      subscription_id: d.subscriptionId ?? '',
      api_id: d.apiId,
      route_id: d.routeId,
      method: d.method,
      status: d.status,
      bytes_in: d.bytesIn,
      bytes_out: d.bytesOut,
      latency_ms: d.latencyMs,
      units: d.units,
      billable: d.billable ? 1 : 0,
      ingested_at: clickhouseDateTime(ingestedAt),
    },
  };
}
