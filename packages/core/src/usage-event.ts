import { z } from 'zod';

/**
 * The usage event: one per request the gateway answered (rejections included, with
 * billable=false), CloudEvents-style. `id` is a UUIDv7 and the dedup key from the gateway to
 * ClickHouse to Stripe. Versioned by `type`: a breaking change is a new type and a new topic.
 */
export const USAGE_EVENT_TYPE_V1 = 'tollgate.usage.v1';
export const USAGE_TOPIC_V1 = 'tollgate.usage.v1';
export const USAGE_DEAD_LETTER_TOPIC_V1 = 'tollgate.usage.v1.dlq';

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
