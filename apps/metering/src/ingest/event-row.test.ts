import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';
import { clickhouseDateTime, toUsageEventRow, USAGE_EVENT_COLUMNS, usageEventRowTsv } from './event-row.ts';

const event = {
  specversion: '1.0' as const,
  type: 'tollgate.usage.v1' as const,
  source: 'gateway/a',
  id: '019a0000-0000-7000-8000-000000000001',
  time: '2026-11-21T23:09:05.123Z',
  subject: 'c1',
  data: {
    consumerId: 'c1',
    keyId: null,
    planId: 'p1',
    subscriptionId: null,
    apiId: 'api',
    routeId: 'route',
    method: 'POST',
    status: 201,
    bytesIn: 10,
    bytesOut: 20,
    latencyMs: 3.25,
    units: 4,
    billable: true,
  },
};

describe('event-row', () => {
  it('maps an event to its usage_events_v1 row: UTC second time plus milliseconds, empty strings for null ids', () => {
    const result = toUsageEventRow(event, new Date('2026-11-21T23:09:06.999Z'));
    expect(result).toEqual({
      ok: true,
      row: {
        event_id: event.id,
        time: '2026-11-21 23:09:05',
        time_ms: 123,
        source: 'gateway/a',
        consumer_id: 'c1',
        key_id: '',
        plan_id: 'p1',
        subscription_id: '',
        api_id: 'api',
        route_id: 'route',
        method: 'POST',
        status: 201,
        bytes_in: 10,
        bytes_out: 20,
        latency_ms: 3.25,
        units: 4,
        billable: 1,
        ingested_at: '2026-11-21 23:09:06',
      },
    });
  });

  it('refuses values the table cannot hold, so they are dead-lettered instead of blocking the partition', () => {
    expect(toUsageEventRow({ ...event, time: '1969-12-31T23:59:59.000Z' }, new Date()).ok).toBe(false);
    expect(toUsageEventRow({ ...event, data: { ...event.data, units: 2 ** 32 } }, new Date())).toEqual({
      ok: false,
      reason: `units out of range: ${2 ** 32}`,
    });
  });

  it('formats DateTime text in UTC', () => {
    expect(clickhouseDateTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)))).toBe('2026-01-02 03:04:05');
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffDelay(1, 100, 1000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 1000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 1000, () => 1)).toBe(400);
    expect(backoffDelay(20, 100, 1000, () => 1)).toBe(1000);
  });

  it('writes the values of the row as one TabSeparated line, whatever the text (tabs, newlines, backslashes, NUL)', () => {
    // The reference: ClickHouse's TabSeparated escaping, character by character.
    const escaped = (v: string) =>
      [...v]
        .map((c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' })[c] ?? c)
        .join('');
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: fc.constantFrom('a', '\\', '\t', '\n', '\r', '\0', '"'), maxLength: 12 }),
    );
    const generated = fc.record({
      source: text,
      id: fc.oneof(fc.uuid({ version: 7 }), text),
      time: fc.integer({ min: -1e11, max: 5e12 }).map((ms) => new Date(ms).toISOString()),
      consumerId: text,
      keyId: fc.option(text, { nil: null }),
      planId: fc.option(text, { nil: null }),
      subscriptionId: fc.option(text, { nil: null }),
      apiId: text,
      routeId: text,
      method: text,
      status: fc.integer({ min: 100, max: 599 }),
      bytesIn: fc.oneof(fc.nat(), fc.maxSafeInteger(), fc.constant(2 ** 60)),
      bytesOut: fc.nat(),
      latencyMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
      units: fc.oneof(fc.nat(), fc.constant(2 ** 32)),
      billable: fc.boolean(),
    });
    fc.assert(
      fc.property(generated, ({ source, id, time, ...data }) => {
        const e = { ...event, source, id, time, data };
        const ingestedAt = new Date('2026-11-21T23:09:06.999Z');
        const expected = toUsageEventRow(e, ingestedAt);
        const actual = usageEventRowTsv(e, clickhouseDateTime(ingestedAt));
        if (expected.ok) {
          const row = expected.row;
          const line = USAGE_EVENT_COLUMNS.map((c) => escaped(String(row[c]))).join('\t');
          expect(actual).toEqual({ ok: true, line });
        } else expect(actual).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
