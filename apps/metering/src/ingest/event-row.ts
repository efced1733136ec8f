import type { UsageEventV1 } from '@tollgate/core';

/** One row of usage_events_v1 (migrations/clickhouse/0001_usage_events.sql), as JSONEachRow or TabSeparated values. */
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

/** Why the table cannot hold an event the schema accepted, or null when it can. */
function unstorable(event: UsageEventV1): string | null {
  // The schema guarantees `YYYY-MM-DDThh:mm:ss.mmmZ`.
  const year = Number(event.time.slice(0, 4));
  if (year < 1971 || year > 2105) return `time out of range: ${event.time}`;
  const d = event.data;
  if (d.units > UINT32_MAX) return `units out of range: ${d.units}`;
  if (!Number.isSafeInteger(d.bytesIn) || !Number.isSafeInteger(d.bytesOut)) return 'bytes out of range';
  return null;
}

/**
 * Maps a parsed event to its row. Events the schema accepts but the table cannot hold (a time
 * outside DateTime's range, units beyond UInt32) are refused here with a reason and go to the
 * dead-letter topic: an insert that can never succeed must not stall its partition.
 */
export function toUsageEventRow(event: UsageEventV1, ingestedAt: Date): RowResult {
  const reason = unstorable(event);
  if (reason !== null) return { ok: false, reason };
  const d = event.data;
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

/** The columns of UsageEventRow in the order `usageEventRowTsv` writes them. */
export const USAGE_EVENT_COLUMNS = [
  'event_id',
  'time',
  'time_ms',
  'source',
  'consumer_id',
  'key_id',
  'plan_id',
  'subscription_id',
  'api_id',
  'route_id',
  'method',
  'status',
  'bytes_in',
  'bytes_out',
  'latency_ms',
  'units',
  'billable',
  'ingested_at',
] as const satisfies readonly (keyof UsageEventRow)[];

export type RowTsvResult = { ok: true; line: string } | { ok: false; reason: string };

/** Characters TabSeparated input must see escaped: backslash, tab, newline, CR, NUL. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for.
const TSV_SPECIAL = /[\\\t\n\r\u0000]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for.
const TSV_SPECIAL_ALL = /[\\\t\n\r\u0000]/g;
const TSV_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\u0000': '\\0',
};

function tsvText(v: string): string {
  return TSV_SPECIAL.test(v) ? v.replace(TSV_SPECIAL_ALL, (c) => TSV_ESCAPES[c]!) : v;
}

/**
 * The event's row as one TabSeparated line (columns USAGE_EVENT_COLUMNS), written straight from
 * the event without building the row object: the same values as `toUsageEventRow` (a property
 * test holds it to that). ClickHouse parses TabSeparated about 2.5 times faster than
 * JSONEachRow (18.16, measured by bench/metering), and the insert is most of the ingest's cost.
 * `ingestedAt` is the row's ingested_at as `clickhouseDateTime` gives it (one per batch).
 */
export function usageEventRowTsv(event: UsageEventV1, ingestedAt: string): RowTsvResult {
  const reason = unstorable(event);
  if (reason !== null) return { ok: false, reason };
  const d = event.data;
  const t = event.time;
  return {
    ok: true,
    line:
      `${tsvText(event.id)}\t${t.slice(0, 10)} ${t.slice(11, 19)}\t${Number(t.slice(20, 23))}\t${tsvText(event.source)}` +
      `\t${tsvText(d.consumerId)}\t${tsvText(d.keyId ?? '')}\t${tsvText(d.planId ?? '')}\t${tsvText(d.subscriptionId ?? '')}` +
      `\t${tsvText(d.apiId)}\t${tsvText(d.routeId)}\t${tsvText(d.method)}\t${d.status}\t${d.bytesIn}\t${d.bytesOut}` +
      `\t${d.latencyMs}\t${d.units}\t${d.billable ? 1 : 0}\t${ingestedAt}`,
  };
}
