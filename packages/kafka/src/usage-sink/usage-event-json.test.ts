import { type UsageEventV1, UsageEventV1Schema } from '@tollgate/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { usageEventJson } from './usage-event-json.ts';

const id = fc.uuid({ version: 7 });
const time = fc
  .integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2100, 0, 1) })
  .map((ms) => new Date(ms).toISOString());
// Any text, escapes, controls and lone surrogates included: JSON.stringify's escaping is the spec.
const text = (max: number, min = 0) => fc.string({ unit: 'binary', minLength: min, maxLength: max });
const nullableText = fc.option(text(64), { nil: null });

/** Events in the gateway's field order, valid against the schema. */
const validEvent: fc.Arbitrary<UsageEventV1> = fc
  .record({
    source: text(200, 1),
    id,
    time,
    subject: text(64, 1),
    consumerId: text(64, 1),
    keyId: nullableText,
    planId: nullableText,
    subscriptionId: nullableText,
    apiId: text(64),
    routeId: text(64),
    method: text(16, 1),
    status: fc.integer({ min: 100, max: 599 }),
    bytesIn: fc.nat(),
    bytesOut: fc.maxSafeNat(),
    latencyMs: fc.double({ min: 0, max: 1e9, noNaN: true }),
    units: fc.nat(),
    billable: fc.boolean(),
  })
  .map((r) => ({
    specversion: '1.0' as const,
    type: 'tollgate.usage.v1' as const,
    source: r.source,
    id: r.id,
    time: r.time,
    subject: r.subject,
    data: {
      consumerId: r.consumerId,
      keyId: r.keyId,
      planId: r.planId,
      subscriptionId: r.subscriptionId,
      apiId: r.apiId,
      routeId: r.routeId,
      method: r.method,
      status: r.status,
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      latencyMs: r.latencyMs,
      units: r.units,
      billable: r.billable,
    },
  }));

const parsed = (json: string) => UsageEventV1Schema.safeParse(JSON.parse(json));

describe('usageEventJson', () => {
  it('is exactly JSON.stringify for every event the schema accepts', () => {
    fc.assert(
      fc.property(validEvent, (event) => {
        expect(UsageEventV1Schema.safeParse(event).success).toBe(true);
        expect(usageEventJson(event)).toBe(JSON.stringify(event));
      }),
      { numRuns: 2000 },
    );
  });

  it('anything else reads back as JSON.stringify of it would, through the schema', () => {
    // Fields dropped, replaced by other JSON values, extra fields added, keys in another order.
    const mutated = fc
      .tuple(
        validEvent,
        fc.dictionary(fc.constantFrom('source', 'id', 'subject', 'extra', 'data'), fc.jsonValue()),
        fc.dictionary(
          fc.constantFrom('consumerId', 'keyId', 'status', 'latencyMs', 'billable', 'units', 'bonus'),
          fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.constant(Number.NaN), fc.constant(Infinity)),
        ),
        fc.boolean(),
      )
      .map(([event, top, data, reverse]) => {
        const d: Record<string, unknown> = { ...event.data, ...data };
        const e: Record<string, unknown> = { ...event, ...top };
        if (typeof e.data === 'object' && e.data !== null && !Array.isArray(e.data) && !('data' in top))
          e.data = d;
        return (reverse ? Object.fromEntries(Object.entries(e).reverse()) : e) as unknown as UsageEventV1;
      });
    fc.assert(
      fc.property(mutated, (event) => {
        const ours = parsed(usageEventJson(event));
        const reference = parsed(JSON.stringify(event));
        expect(ours.success).toBe(reference.success);
        if (ours.success && reference.success) expect(ours.data).toEqual(reference.data);
      }),
      { numRuns: 2000 },
    );
  });
});
