import { z } from 'zod';

/**
 * The usage event: one per request the gateway answered (rejections included, with
 * billable=false), CloudEvents-style. `id` is a UUIDv7 and the dedup key from the gateway to
 * ClickHouse to Stripe. Versioned by `type`: a breaking change is a new type and a new topic.
 *
 * The topic is versioned apart from the event: `tollgate.usage.v2` carries the same v1 events,
 * many per Kafka record (newline-delimited JSON; the record format is owned by packages/kafka,
 * `usage-topic/usage-record.ts`). v2 replaced v1 in one step (no deployed base).
 */
export const USAGE_EVENT_TYPE_V1 = 'tollgate.usage.v1';
export const USAGE_TOPIC_V2 = 'tollgate.usage.v2';
export const USAGE_DEAD_LETTER_TOPIC_V2 = 'tollgate.usage.v2.dlq';

export const UsageEventDataV1Schema = z.object({
  consumerId: z.string().min(1).max(64),
  /** null for JWT callers and for requests rejected before a key was identified. */
  keyId: z.string().max(64).nullable(),
  planId: z.string().max(64).nullable(),
  subscriptionId: z.string().max(64).nullable(),
  apiId: z.string().max(64),
  routeId: z.string().max(64),
  method: z.string().min(1).max(16),
  status: z.number().int().min(100).max(599),
  bytesIn: z.number().int().nonnegative(),
  bytesOut: z.number().int().nonnegative(),
  latencyMs: z.number().nonnegative(),
  /** Route cost weight: what this request counts against the quota and the bill. */
  units: z.number().int().nonnegative(),
  billable: z.boolean(),
});
export type UsageEventDataV1 = z.infer<typeof UsageEventDataV1Schema>;

export const UsageEventV1Schema = z.object({
  specversion: z.literal('1.0'),
  type: z.literal(USAGE_EVENT_TYPE_V1),
  source: z.string().min(1).max(200),
  id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
  /** RFC 3339 with milliseconds, UTC. */
  time: z.iso.datetime({ offset: false, precision: 3 }),
  subject: z.string().min(1).max(64),
  data: UsageEventDataV1Schema,
});
export type UsageEventV1 = z.infer<typeof UsageEventV1Schema>;

export type UsageEventParseResult = { ok: true; event: UsageEventV1 } | { ok: false; reason: string };

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TIME_SHAPE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const EVENT_KEYS = 7;
const DATA_KEYS = 13;
const timeSchema = UsageEventV1Schema.shape.time;
/** The last time strings the schema accepted: events of one batch share their milliseconds. */
const validTimes = new Set<string>();

/** Code points: a surrogate pair counts once (the schema measures lengths this way). */
function codePoints(v: string): number {
  let count = v.length;
  for (let i = 0; i < v.length - 1; i++) {
    if ((v.charCodeAt(i) & 0xfc00) === 0xd800 && (v.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count -= 1;
      i += 1;
    }
  }
  return count;
}

function text(v: unknown, min: number, max: number): boolean {
  if (typeof v !== 'string') return false;
  const units = v.length;
  // A code point is one or two units: only an overflow in units needs the exact count.
  return units >= min && (units <= max || codePoints(v) <= max);
}

function nullableText(v: unknown): boolean {
  return v === null || text(v, 0, 64);
}

function count(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Whether `v` is a time the schema accepts (cached: the events of a batch share a few). */
export function isUsageEventTime(v: unknown): boolean {
  if (typeof v !== 'string' || !TIME_SHAPE.test(v)) return false;
  if (validTimes.has(v)) return true;
  if (!timeSchema.safeParse(v).success) return false;
  if (validTimes.size >= 1024) validTimes.clear();
  validTimes.add(v);
  return true;
}

/**
 * Whether a parsed JSON value is a UsageEventV1 exactly as the schema would return it (every
 * field valid, no other key): the schema's answer without the schema's cost (a few µs per event
 * in metering's ingest). A property test holds it to UsageEventV1Schema: whatever it accepts, the
 * schema accepts and returns unchanged; whatever the schema accepts without stripping a key, it
 * accepts. Anything it refuses goes through the schema, which gives the reason.
 */
export function isExactUsageEventV1(json: unknown): json is UsageEventV1 {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return false;
  const e = json as Record<string, unknown>;
  const d = e.data as Record<string, unknown> | null | undefined;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return false;
  let keys = 0;
  for (const _ in e) keys += 1;
  if (keys !== EVENT_KEYS) return false;
  keys = 0;
  for (const _ in d) keys += 1;
  if (keys !== DATA_KEYS) return false;
  return (
    e.specversion === '1.0' &&
    e.type === USAGE_EVENT_TYPE_V1 &&
    text(e.source, 1, 200) &&
    typeof e.id === 'string' &&
    UUID_V7.test(e.id) &&
    isUsageEventTime(e.time) &&
    text(e.subject, 1, 64) &&
    text(d.consumerId, 1, 64) &&
    nullableText(d.keyId) &&
    nullableText(d.planId) &&
    nullableText(d.subscriptionId) &&
    text(d.apiId, 0, 64) &&
    text(d.routeId, 0, 64) &&
    text(d.method, 1, 16) &&
    typeof d.status === 'number' &&
    Number.isInteger(d.status) &&
    d.status >= 100 &&
    d.status <= 599 &&
    count(d.bytesIn) &&
    count(d.bytesOut) &&
    typeof d.latencyMs === 'number' &&
    Number.isFinite(d.latencyMs) &&
    d.latencyMs >= 0 &&
    count(d.units) &&
    typeof d.billable === 'boolean'
  );
}

/** Parses a raw Kafka value; never throws, so a poison message becomes a dead letter with a reason. */
export function parseUsageEvent(raw: string | Uint8Array): UsageEventParseResult {
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder().decode(raw));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof json === 'object' && json !== null && 'type' in json && json.type !== USAGE_EVENT_TYPE_V1) {
    return { ok: false, reason: `unknown event type ${JSON.stringify(json.type).slice(0, 80)}` };
  }
  if (isExactUsageEventV1(json)) return { ok: true, event: json };
  const parsed = UsageEventV1Schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return {
      ok: false,
      reason: `invalid event: ${first?.path.join('.') ?? ''} ${first?.message ?? ''}`.trim(),
    };
  }
  return { ok: true, event: parsed.data };
}
