import { isUsageEventTime, parseUsageEvent } from '@tollgate/core';
import { usageEventRowTsv } from './event-row.ts';

/**
 * One line of a usage record (one event's JSON) → its usage_events_v1 TabSeparated row, or the
 * reason it is refused.
 *
 * Two paths, one answer. The gateway writes every event with one fixed-shape template
 * (packages/kafka `usage-sink/usage-event-json.ts`: the schema's field order, no whitespace,
 * strings escaped only when they must be), so a line of exactly that shape, every string free of
 * escapes and every number in its plainest form, is cut into the row by one regular expression
 * without JSON.parse, the event object and the schema check: 2.7–2.9 against 5.3–6.2 µs of CPU
 * per event, measured alone (bench/metering/decode-bench.ts, BENCHMARKS.md). The fast path only ever says yes: a line it does
 * not recognise, or one it recognises but whose values the schema or the table might refuse,
 * goes the full way (JSON.parse, the exact schema check, then zod for the reason), so every
 * malformed event is still judged by the schema. A property test holds the two paths to the same
 * result for generated events and near misses.
 */
export type DecodedLine =
  | { ok: true; id: string; consumerId: string; line: string }
  | { ok: false; reason: string };

// Strings: no quote, backslash or control character (so nothing to unescape for JSON, and
// nothing to escape for TabSeparated). Their lengths are checked after the match, in UTF-16 units
// against the schema's limit in code points: a longer one may still fit in code points, and the
// full path counts (a bounded repeat in the expression cost a third more time than the check).
// Integers: no sign, no leading zero, no fraction or exponent, few enough digits to be safe
// integers (bytes) and UInt32 (units), so their text is already what the row writes.
// latencyMs: plain decimal, written as the number's own text (what the full path writes).
const S = (min: 0 | 1) => `"([^"\\\\\\u0000-\\u001f]${min === 1 ? '+' : '*'})"`;
const NULLABLE = `(?:null|${S(0)})`;
const SAFE_INT = '(0|[1-9]\\d{0,14})';
const FAST_SHAPE = new RegExp(
  '^\\{"specversion":"1\\.0","type":"tollgate\\.usage\\.v1"' +
    `,"source":${S(1)}` +
    ',"id":"([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})"' +
    ',"time":"(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z)"' +
    `,"subject":${S(1)}` +
    `,"data":\\{"consumerId":${S(1)},"keyId":${NULLABLE},"planId":${NULLABLE}` +
    `,"subscriptionId":${NULLABLE},"apiId":${S(0)},"routeId":${S(0)},"method":${S(1)}` +
    `,"status":([1-5]\\d\\d),"bytesIn":${SAFE_INT},"bytesOut":${SAFE_INT}` +
    ',"latencyMs":((?:0|[1-9]\\d{0,14})(?:\\.\\d{1,20})?),"units":(0|[1-9]\\d{0,8})' +
    ',"billable":(true|false)\\}\\}$',
);

/** Whether the strings of a match are within the schema's limits counted in UTF-16 units. */
function withinLimits(m: RegExpExecArray): boolean {
  return (
    m[1]!.length <= 200 &&
    m[4]!.length <= 64 &&
    m[5]!.length <= 64 &&
    (m[6] === undefined || m[6].length <= 64) &&
    (m[7] === undefined || m[7].length <= 64) &&
    (m[8] === undefined || m[8].length <= 64) &&
    m[9]!.length <= 64 &&
    m[10]!.length <= 64 &&
    m[11]!.length <= 16
  );
}

/**
 * Seconds ('YYYY-MM-DDThh:mm:ss') of times the schema accepted. Its check of a time of the shape
 * above is a regular expression in which the milliseconds are any three digits, so the verdict
 * for one second holds for all its milliseconds: at 10,000 events/s that is one check per
 * second instead of one per millisecond (core's cache keys on the whole string).
 */
const validSeconds = new Set<string>();

function validTime(t: string): boolean {
  const second = t.slice(0, 19);
  if (validSeconds.has(second)) return true;
  if (!isUsageEventTime(t)) return false;
  if (validSeconds.size >= 1024) validSeconds.clear();
  validSeconds.add(second);
  return true;
}

/** The row of a line of the gateway's exact shape whose values the table holds, else null. */
export function fastUsageEventRow(json: string, ingestedAt: string): DecodedLine | null {
  const m = FAST_SHAPE.exec(json);
  if (m === null || !withinLimits(m)) return null;
  const t = m[3]!;
  const year = Number(t.slice(0, 4));
  // The table's DateTime range (event-row.ts `unstorable`); outside it, the full path says why.
  if (year < 1971 || year > 2105 || !validTime(t)) return null;
  const id = m[2]!;
  const consumerId = m[5]!;
  return {
    ok: true,
    id,
    consumerId,
    line:
      `${id}\t${t.slice(0, 10)} ${t.slice(11, 19)}\t${Number(t.slice(20, 23))}\t${m[1]}` +
      `\t${consumerId}\t${m[6] ?? ''}\t${m[7] ?? ''}\t${m[8] ?? ''}\t${m[9]}\t${m[10]}\t${m[11]}` +
      `\t${m[12]}\t${m[13]}\t${m[14]}\t${String(Number(m[15]))}\t${m[16]}\t${m[17] === 'true' ? 1 : 0}` +
      `\t${ingestedAt}`,
  };
}

/** The full path: JSON.parse, the schema (exact check, then zod for the reason), the table's limits. */
export function fullUsageEventRow(json: string, ingestedAt: string): DecodedLine {
  const parsed = parseUsageEvent(json);
  if (!parsed.ok) return parsed;
  const row = usageEventRowTsv(parsed.event, ingestedAt);
  if (!row.ok) return row;
  return { ok: true, id: parsed.event.id, consumerId: parsed.event.data.consumerId, line: row.line };
}

/** One event's line → its row or its refusal. `ingestedAt`: ClickHouse DateTime text. */
export function decodeUsageLine(json: string, ingestedAt: string): DecodedLine {
  return fastUsageEventRow(json, ingestedAt) ?? fullUsageEventRow(json, ingestedAt);
}
