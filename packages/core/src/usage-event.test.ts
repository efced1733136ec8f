import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isExactUsageEventV1,
  parseUsageEvent,
  type UsageEventV1,
  UsageEventV1Schema,
} from './usage-event.ts';
import { uuidv7 } from './uuidv7.ts';

const valid = (): UsageEventV1 => ({
  specversion: '1.0',
  type: 'tollgate.usage.v1',
  source: 'gateway/test',
  id: uuidv7(),
  time: new Date().toISOString(),
  subject: 'c1',
  data: {
    consumerId: 'c1',
    keyId: 'k1',
    planId: 'p1',
    subscriptionId: 's1',
    apiId: 'a1',
    routeId: 'r1',
    method: 'GET',
    status: 200,
    bytesIn: 0,
    bytesOut: 12,
    latencyMs: 1.5,
    units: 1,
    billable: true,
  },
});

describe('usage event parsing', () => {
  it('accepts a valid v1 event unchanged', () => {
    const e = valid();
    expect(parseUsageEvent(JSON.stringify(e))).toEqual({ ok: true, event: e });
    expect(parseUsageEvent(new TextEncoder().encode(JSON.stringify(e)))).toEqual({ ok: true, event: e });
  });

  it('gives a reason for poison: not JSON, unknown version, missing fields, bad id', () => {
    expect(parseUsageEvent('{nope')).toEqual({ ok: false, reason: 'not JSON' });
    expect(parseUsageEvent(JSON.stringify({ ...valid(), type: 'tollgate.usage.v9' }))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('unknown event type'),
    });
    const { data: _data, ...noData } = valid();
    expect(parseUsageEvent(JSON.stringify(noData))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('data'),
    });
    expect(parseUsageEvent(JSON.stringify({ ...valid(), id: 'not-a-uuid' }))).toMatchObject({ ok: false });
    expect(parseUsageEvent('null')).toMatchObject({ ok: false });
  });
});

describe('isExactUsageEventV1 (the ingest fast path) agrees with UsageEventV1Schema', () => {
  const text = (max: number) => fc.string({ unit: 'binary', maxLength: max });
  const event = fc.record({
    specversion: fc.constantFrom('1.0', '1.1'),
    type: fc.constantFrom('tollgate.usage.v1', 'tollgate.usage.v2'),
    source: text(202),
    id: fc.oneof(fc.uuid({ version: 7 }), fc.uuid(), fc.constant('019a0000-0000-7000-8000-00000000000G')),
    time: fc.oneof(
      fc.integer({ min: -1e12, max: 5e12 }).map((ms) => new Date(ms).toISOString()),
      fc.constantFrom(
        '2026-02-30T00:00:00.000Z',
        '2026-13-01T00:00:00.000Z',
        '2026-01-01T24:00:00.000Z',
        '2026-01-01T00:00:00Z',
        '2026-01-01T00:00:00.000+00:00',
      ),
    ),
    subject: text(66),
    data: fc.record({
      consumerId: text(66),
      keyId: fc.option(text(66), { nil: null }),
      planId: fc.option(text(66), { nil: null }),
      subscriptionId: fc.option(text(66), { nil: null }),
      apiId: text(66),
      routeId: text(66),
      method: text(18),
      status: fc.oneof(fc.integer({ min: 90, max: 610 }), fc.double()),
      bytesIn: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constant(2 ** 60)),
      bytesOut: fc.oneof(fc.nat(), fc.maxSafeInteger()),
      latencyMs: fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double()),
      units: fc.oneof(fc.nat(), fc.integer({ min: -5, max: 5 })),
      billable: fc.oneof(fc.boolean(), fc.constant(0)),
    }),
  });
  const within = (min: number, max: number) => fc.string({ unit: 'binary', minLength: min, maxLength: max });
  const validEvent = fc.record({
    specversion: fc.constant('1.0'),
    type: fc.constant('tollgate.usage.v1'),
    source: within(1, 200),
    id: fc.uuid({ version: 7 }),
    time: fc.integer({ min: 0, max: 4e12 }).map((ms) => new Date(ms).toISOString()),
    subject: within(1, 64),
    data: fc.record({
      consumerId: within(1, 64),
      keyId: fc.option(within(0, 64), { nil: null }),
      planId: fc.option(within(0, 64), { nil: null }),
      subscriptionId: fc.option(within(0, 64), { nil: null }),
      apiId: within(0, 64),
      routeId: within(0, 64),
      method: within(1, 16),
      status: fc.integer({ min: 100, max: 599 }),
      bytesIn: fc.maxSafeNat(),
      bytesOut: fc.nat(),
      latencyMs: fc.double({ min: 0, max: 1e9, noNaN: true }),
      units: fc.nat(),
      billable: fc.boolean(),
    }),
  });
  // Also: fields removed, replaced by other JSON values, extra keys.
  const mutated = fc
    .tuple(
      event,
      fc.option(fc.constantFrom('source', 'id', 'data', 'extra')),
      fc.option(fc.constantFrom('consumerId', 'status', 'billable', 'extra')),
      fc.jsonValue(),
    )
    .map(([e, top, inner, value]) => {
      const copy = structuredClone(e) as Record<string, unknown> & { data: Record<string, unknown> };
      if (top !== null) (copy as Record<string, unknown>)[top] = value;
      if (inner !== null && typeof copy.data === 'object' && copy.data !== null)
        copy.data[inner] = structuredClone(value);
      return JSON.parse(JSON.stringify(copy)) as unknown;
    });

  it('accepts every valid event the gateway writes', () => {
    fc.assert(
      fc.property(validEvent, (e) => {
        expect(isExactUsageEventV1(JSON.parse(JSON.stringify(e)))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('what it accepts, the schema accepts and returns unchanged; what the schema accepts whole, it accepts', () => {
    const asJson = (e: unknown) => JSON.parse(JSON.stringify(e)) as unknown;
    fc.assert(
      fc.property(fc.oneof(event.map(asJson), validEvent.map(asJson), mutated), (json) => {
        const schema = UsageEventV1Schema.safeParse(json);
        const fast = isExactUsageEventV1(json);
        if (fast) {
          expect(schema.success).toBe(true);
          expect(schema.data).toEqual(json);
        } else if (schema.success) {
          // The schema accepted it only by dropping keys it does not know.
          expect(schema.data).not.toEqual(json);
        }
        // parseUsageEvent gives the schema's answer either way.
        const parsed = parseUsageEvent(JSON.stringify(json));
        // (an unknown `type` is refused before the schema, which refuses it too)
        expect(parsed.ok).toBe(schema.success);
        if (parsed.ok && schema.success) expect(parsed.event).toEqual(schema.data);
      }),
      { numRuns: 3000 },
    );
  });
});
