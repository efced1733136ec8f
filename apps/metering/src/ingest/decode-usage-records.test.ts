import { USAGE_RECORD_HEADERS, usageRecordValue } from '@tollgate/kafka';
import { makeUsageEvent } from '@tollgate/kafka/testing';
import { describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_INDEX_HEADER,
  DEAD_LETTER_REASON_HEADER,
  type DecodedChunk,
  decodeUsageBatch,
} from './decode-usage-records.ts';

const headers = { 'content-type': Buffer.from(USAGE_RECORD_HEADERS['content-type']!) };

function record(offset: number, lines: string[]) {
  return { key: null, offset: String(offset), headers, value: usageRecordValue(lines) };
}

async function decodeAll(messages: ReturnType<typeof record>[], maxEvents: number): Promise<DecodedChunk[]> {
  const chunks: DecodedChunk[] = [];
  for await (const chunk of decodeUsageBatch({ topic: 't', partition: 2, messages }, maxEvents)) {
    chunks.push(chunk);
  }
  return chunks;
}

describe('decode-usage-records', () => {
  it('one malformed line is one dead letter holding that line alone; the other events of the record become rows', async () => {
    const events = Array.from({ length: 4 }, (_, i) => makeUsageEvent('c1', i));
    const lines = events.map((e) => JSON.stringify(e));
    lines.splice(2, 0, '{"specversion":"1.0"');
    const [chunk] = await decodeAll([record(7, lines)], 1000);
    expect(chunk!.decoded.rows.map((line) => line.split('\t')[0])).toEqual(events.map((e) => e.id));
    expect(chunk!.decoded.deadLetters).toHaveLength(1);
    const dead = chunk!.decoded.deadLetters[0]!;
    expect(dead.value?.toString()).toBe('{"specversion":"1.0"');
    expect(dead.headers[DEAD_LETTER_REASON_HEADER]).toBe('not JSON');
    expect(dead.headers[DEAD_LETTER_INDEX_HEADER]).toBe('2');
    expect(dead.headers['tollgate-source-partition']).toBe('2');
    expect(dead.headers['tollgate-source-offset']).toBe('7');
    expect(chunk!.lastOffset).toBe('7');
  });

  it('cuts chunks of whole records at about maxEvents and skips an id already in the chunk', async () => {
    const events = Array.from({ length: 9 }, (_, i) => makeUsageEvent('c1', i));
    const json = events.map((e) => JSON.stringify(e));
    const chunks = await decodeAll(
      [record(0, json.slice(0, 3)), record(1, [...json.slice(3, 6), json[3]!]), record(2, json.slice(6))],
      4,
    );
    expect(chunks.map((c) => c.lastOffset)).toEqual(['1', '2']);
    expect(chunks.map((c) => c.decoded.rows.length)).toEqual([6, 3]);
    expect(chunks[0]!.decoded.duplicates).toBe(1);
  });

  it('a chunk with nothing to store still comes out, so its offsets are committed', async () => {
    const chunks = await decodeAll([record(5, ['', ''])], 10);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.lastOffset).toBe('5');
    expect(chunks[0]!.decoded.rows).toEqual([]);
    expect(chunks[0]!.decoded.deadLetters[0]!.headers[DEAD_LETTER_REASON_HEADER]).toBe(
      'no events in the record',
    );
  });
});
