import { usageEventJson } from '@tollgate/kafka';
import { makeUsageEvent } from '@tollgate/kafka/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUsageLine, fastUsageEventRow, fullUsageEventRow } from './decode-usage-line.ts';

const ingestedAt = '2026-12-03 18:30:00';

/** Mostly a value the schema accepts, now and then one near or past its edge. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 24, arbitrary: valid }, { weight: 1, arbitrary: edge });

// Strings near what the schema and TabSeparated care about: unicode (surrogate pairs count once
// in the schema's limits), characters JSON or TabSeparated escape, lengths at the limits.
const plain = fc.string({
  unit: fc.constantFrom('a', 'Z', '0', '-', '/', '.', 'é', '😀'),
  minLength: 1,
  maxLength: 16,
});
const odd = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({
    unit: fc.constantFrom('a', '\\', '\t', '\n', '\r', '\0', '"', '\u2028', '\ud800'),
    maxLength: 12,
  }),
  fc.constantFrom(
    '',
    'a'.repeat(16),
    'a'.repeat(17),
    'a'.repeat(64),
    'a'.repeat(65),
    'a'.repeat(200),
    'a'.repeat(201),
  ),
  fc.constantFrom(
    '😀'.repeat(32),
    '😀'.repeat(33),
    '😀'.repeat(64),
    '😀'.repeat(65),
    `${'a'.repeat(63)}😀`,
    '😀'.repeat(100),
    '😀'.repeat(101),
  ),
  fc.constantFrom(null, 1, true),
);
const text = mostly(plain, odd);
const nullable = mostly(fc.option(plain, { nil: null }), odd);
const count = mostly(
  fc.oneof(fc.nat({ max: 100_000 }), fc.nat()),
  fc.constantFrom(
    0,
    2 ** 32 - 1,
    2 ** 32,
    999_999_999,
    1e9,
    1e15 - 1,
    1e15,
    2 ** 53 - 1,
    2 ** 53,
    -1,
    1.5,
    2 ** 60,
    '1',
  ),
);
const time = mostly(
  fc.integer({ min: -1e11, max: 5e12 }).map((ms) => new Date(ms).toISOString()),
  fc.constantFrom(
    '1970-12-31T23:59:59.999Z',
    '1971-01-01T00:00:00.000Z',
    '2105-12-31T23:59:59.999Z',
    '2106-01-01T00:00:00.000Z',
    '2026-02-30T00:00:00.000Z',
    '2026-13-01T00:00:00.000Z',
    '2026-12-03T24:00:00.000Z',
    '2026-12-03T18:30:00Z',
    '2026-12-03T18:30:00.000+00:00',
  ),
);
const event = fc.record({
  specversion: mostly(fc.constant('1.0'), fc.constantFrom('1.1', 1)),
  type: mostly(fc.constant('tollgate.usage.v1'), fc.constantFrom('tollgate.usage.v2', null)),
  source: text,
  id: mostly(
    fc.uuid({ version: 7 }),
    fc.oneof(
      fc.uuid({ version: 4 }),
      fc.uuid({ version: 7 }).map((u) => u.toUpperCase()),
      text,
    ),
  ),
  time,
  subject: text,
  data: fc.record({
    consumerId: text,
    keyId: nullable,
    planId: nullable,
    subscriptionId: nullable,
    apiId: text,
    routeId: text,
    method: mostly(fc.constantFrom('GET', 'POST', 'DELETE'), text),
    status: mostly(fc.integer({ min: 100, max: 599 }), fc.constantFrom(99, 600, 200.5, '200')),
    bytesIn: count,
    bytesOut: count,
    latencyMs: mostly(
      fc.oneof(
        fc.integer({ min: 0, max: 1e7 }).map((n) => n / 100),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
      ),
      fc.constantFrom(0, -0, 1e-7, 0.1 + 0.2, 3.25, 1e21, -1, 123456789012345.6, 1e300),
    ),
    units: count,
    billable: mostly(fc.boolean(), fc.constantFrom('true', 0, null)),
  }),
});

type Ev = typeof event extends fc.Arbitrary<infer T> ? T : never;

/** A line as the gateway writes it, or a near miss: same event written otherwise, or broken. */
function lineOf(e: Ev, form: number, k: number): string {
  const gateway = usageEventJson(e as never);
  switch (form) {
    case 0:
      return gateway;
    case 1: {
      // the fields in another order
      const { data, ...rest } = e;
      return JSON.stringify({ data, ...rest });
    }
    case 2: // an extra field, at the top or in data
      return k % 2 === 0
        ? JSON.stringify({ ...e, extra: 1 })
        : JSON.stringify({ ...e, data: { ...e.data, extra: 'x' } });
    case 3: // whitespace between tokens
      return gateway.replace(/":/g, k % 2 === 0 ? '": ' : '":\t');
    case 4: // a character escaped that needs no escape: the same value
      return gateway.replace(
        /:"([a-zA-Z])/,
        (_, c: string) => `:"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      );
    case 5: // numbers in another JSON form: the same values, or digits past a double's precision
      if (k % 4 === 0) return gateway.replace(/"status":(\d+)/, '"status":$1.0');
      if (k % 4 === 1) return gateway.replace(/"status":(\d+)/, '"status":$1e0');
      if (k % 4 === 2)
        return gateway.replace(
          /"latencyMs":(\d+)(\.\d+)?/,
          (_, i: string, f?: string) => `"latencyMs":${i}${f ?? '.'}0`,
        );
      return gateway.replace(
        /"latencyMs":(\d+)(\.\d+)?/,
        (_, i: string, f?: string) => `"latencyMs":${i}${f ?? '.'}000000000000000001`,
      );
    case 6: // cut short
      return gateway.slice(0, k % gateway.length);
    case 7: // a field missing, or of another type
      return k % 2 === 0
        ? gateway.replace(/,"units":\d+/, '')
        : gateway.replace(/"billable":(true|false)/, '"billable":"$1"');
    case 8: // trailing or leading junk
      return k % 2 === 0 ? `${gateway} ` : `\uFEFF${gateway}`;
    default: // one character changed
      return (
        gateway.slice(0, k % gateway.length) +
        String.fromCharCode(k % 128) +
        gateway.slice((k % gateway.length) + 1)
      );
  }
}

describe('decode-usage-line', () => {
  it('the gateway’s lines take the fast path and give the row of the full path', () => {
    for (let i = 0; i < 50; i++) {
      const json = usageEventJson(makeUsageEvent(`c${i % 7}`, i));
      const fast = fastUsageEventRow(json, ingestedAt);
      expect(fast).not.toBeNull();
      expect(fast).toEqual(fullUsageEventRow(json, ingestedAt));
    }
  });

  it('the fast path gives exactly the full path’s row or refusal, for generated events and near-miss lines', () => {
    let fastHits = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        event,
        fc.oneof(
          { weight: 10, arbitrary: fc.constant(0) },
          { weight: 10, arbitrary: fc.integer({ min: 1, max: 9 }) },
        ),
        fc.nat(),
        (e, form, k) => {
          const json = lineOf(e, form, k);
          const full = fullUsageEventRow(json, ingestedAt);
          const fast = fastUsageEventRow(json, ingestedAt);
          if (fast !== null) {
            fastHits += 1;
            expect(fast).toEqual(full);
          }
          if (!full.ok) refused += 1;
          expect(decodeUsageLine(json, ingestedAt)).toEqual(full);
        },
      ),
      { numRuns: 5000 },
    );
    // The property must have seen both paths and both answers to mean anything.
    expect(fastHits).toBeGreaterThan(250);
    expect(refused).toBeGreaterThan(250);
  });

  it('a refused line carries the schema’s reason', () => {
    const json = usageEventJson({ ...makeUsageEvent('c1'), id: 'not-a-uuid' });
    expect(fastUsageEventRow(json, ingestedAt)).toBeNull();
    expect(decodeUsageLine(json, ingestedAt)).toEqual({
      ok: false,
      reason: expect.stringContaining('invalid event: id'),
    });
    const units = usageEventJson({
      ...makeUsageEvent('c1'),
      data: { ...makeUsageEvent('c1').data, units: 2 ** 32 },
    });
    expect(decodeUsageLine(units, ingestedAt)).toEqual({
      ok: false,
      reason: `units out of range: ${2 ** 32}`,
    });
  });
});
