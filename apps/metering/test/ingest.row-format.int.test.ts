import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import { usageEventJson } from '@tollgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeUsageLine, fastUsageEventRow } from '../src/ingest/decode-usage-line.ts';
import {
  clickhouseDateTime,
  toUsageEventRow,
  USAGE_EVENT_COLUMNS,
  type UsageEventRow,
  usageEventRowTsv,
} from '../src/ingest/event-row.ts';
import { quietly } from './cleanup.ts';
import { clickhouseRunner, makeEvent, randomId } from './helpers.ts';

describe('ingest.row-format', () => {
  let ch: TestClickhouseDatabase;
  let store: ReturnType<typeof clickhouseRunner>;

  beforeAll(async () => {
    ch = await createTestClickhouseDatabase();
    store = clickhouseRunner(ch.url, ch.database);
  });
  afterAll(async () => {
    await store.close();
    await quietly('drop ClickHouse database', () => ch.drop());
  });

  it('the TabSeparated lines the ingest writes (fast path and full path) read back from ClickHouse as the rows of the events, whatever the text', async () => {
    const tricky = [
      'tab\there',
      'new\nline',
      'back\\slash\\n',
      'cr\rnul\u0000',
      '"quoted" \'x\'',
      'ünï 😀 中文',
      '',
    ];
    const events = tricky.map((text, i) => {
      const event = makeEvent({ consumerId: `c-${randomId()}-${text}`, routeId: text, latencyMs: 0.1 + i });
      return {
        ...event,
        source: `gateway/${text}`,
        data: { ...event.data, method: text || 'GET', keyId: text },
      };
    });
    const ingestedAt = new Date('2026-12-03T10:00:00.000Z');
    // As the ingest decodes the gateway's lines: the plain ones by the fast path, the others
    // (escapes in their JSON) by the full path; both must read back as the same rows.
    const json = events.map((e) => usageEventJson(e));
    expect(json.filter((j) => fastUsageEventRow(j, clickhouseDateTime(ingestedAt)) !== null)).toHaveLength(2);
    const lines = json.map(
      (j) => (decodeUsageLine(j, clickhouseDateTime(ingestedAt)) as { line: string }).line,
    );
    expect(lines).toEqual(
      events.map((e) => (usageEventRowTsv(e, clickhouseDateTime(ingestedAt)) as { line: string }).line),
    );
    await store.runner.insertTabSeparated('usage_events_v1', USAGE_EVENT_COLUMNS, lines);

    const back = await store.runner.rows<Record<string, unknown>>(
      `SELECT ${USAGE_EVENT_COLUMNS.join(', ')} FROM usage_events_v1 ORDER BY event_id`,
    );
    const expected = events
      .map((e) => (toUsageEventRow(e, ingestedAt) as { row: UsageEventRow }).row)
      .sort((a, b) => (a.event_id < b.event_id ? -1 : 1));
    // JSON output quotes 64-bit integers: compare every value as text.
    const asText = (row: object) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, String(v)]));
    expect(back.map(asText)).toEqual(expected.map(asText));
  });
});
