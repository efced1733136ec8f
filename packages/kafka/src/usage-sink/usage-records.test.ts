import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyPartitions } from '../client.ts';
import { isUsageRecord, MAX_RECORD_VALUE_BYTES, usageRecordLines } from '../usage-topic/usage-record.ts';
import type { SpoolRecord } from './spool-format.ts';
import { usageRecords } from './usage-records.ts';

const line = (key: string, n: number, pad = 0) =>
  Buffer.from(
    `{"data":{"consumerId":${JSON.stringify(key)}},"n":${n}${pad > 0 ? `,"p":"${'x'.repeat(pad)}"` : ''}}\n`,
  );

describe('usage records (spool lines → the records of one send)', () => {
  it("one record per partition, each consumer's events in its partition, in spool order, bytes unchanged", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('alpha', 'beta', 'gamma', 'δέλτα', 'c"q', 'e'), { maxLength: 200 }),
        fc.integer({ min: 1, max: 12 }),
        (keys, partitions) => {
          const records: SpoolRecord[] = keys.map((key, n) => ({ key, line: line(key, n) }));
          const messages = usageRecords(records, partitions, new KeyPartitions());
          const reference = new KeyPartitions();
          const seen = new Set<number>();
          const back: string[] = [];
          for (const m of messages) {
            expect(m.key).toBeNull();
            expect(isUsageRecord(m.headers as Record<string, unknown>)).toBe(true);
            expect(seen.has(m.partition!)).toBe(false); // one record per partition
            seen.add(m.partition!);
            const value = m.value as Buffer;
            for (const { start, end } of usageRecordLines(value)) {
              const text = value.toString('utf8', start, end);
              const event = JSON.parse(text) as { data: { consumerId: string } };
              expect(reference.partitionOf(event.data.consumerId, partitions)).toBe(m.partition);
              back.push(`${text}\n`);
            }
          }
          // Per partition, the spool's order.
          for (const p of seen) {
            const inSpool = records
              .filter((r) => reference.partitionOf(r.key!, partitions) === p)
              .map((r) => r.line.toString());
            expect(back.filter((b) => inSpool.includes(b))).toEqual(inSpool);
          }
          expect(back.sort()).toEqual(records.map((r) => r.line.toString()).sort());
        },
      ),
    );
  });

  it('a partition whose events exceed the record size bound gets further records, in order', () => {
    const records: SpoolRecord[] = Array.from({ length: 40 }, (_, n) => ({
      key: 'k',
      line: line('k', n, 50_000),
    }));
    const messages = usageRecords(records, 3, new KeyPartitions());
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect((m.value as Buffer).length).toBeLessThanOrEqual(MAX_RECORD_VALUE_BYTES);
    expect(Buffer.concat(messages.map((m) => m.value as Buffer)).toString()).toBe(
      Buffer.concat(records.map((r) => r.line)).toString(),
    );
  });

  it('the record framing: lines split on newlines, empty lines carry nothing, a missing last newline still ends a line', () => {
    const v = Buffer.from('{"a":1}\n\n{"b":2}\n{"c":3}');
    expect(usageRecordLines(v).map(({ start, end }) => v.toString('utf8', start, end))).toEqual([
      '{"a":1}',
      '{"b":2}',
      '{"c":3}',
    ]);
    expect(isUsageRecord({ 'content-type': Buffer.from('application/x-ndjson') })).toBe(true);
    expect(isUsageRecord({ 'content-type': Buffer.from('application/json') })).toBe(false);
    expect(isUsageRecord({})).toBe(false);
    expect(isUsageRecord(undefined)).toBe(false);
  });
});
