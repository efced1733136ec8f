import { createUsageStore } from '@tollgate/clickhouse';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import { CONTENT_TYPE_HEADER, type Kafka, USAGE_RECORD_CONTENT_TYPE } from '@tollgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_INDEX_HEADER } from '../src/ingest/decode-usage-records.ts';
import { DEAD_LETTER_REASON_HEADER, type Ingest } from '../src/ingest/start-ingest.ts';
import { quietly } from './cleanup.ts';
import {
  clickhouseRunner,
  countRows,
  createTestTopics,
  makeEvent,
  produce,
  produceRawRecords,
  randomId,
  readTopic,
  startTestIngest,
  testKafka,
  waitForCaughtUp,
} from './helpers.ts';

/** Records in a topic: the sum of its partitions' high watermarks (nothing is ever deleted here). */
async function recordCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

describe('ingest.dead-letter', () => {
  let ch: TestClickhouseDatabase;
  let store: ReturnType<typeof clickhouseRunner>;
  let kafka: Kafka;
  const running: Ingest[] = [];

  beforeAll(async () => {
    ch = await createTestClickhouseDatabase();
    store = clickhouseRunner(ch.url, ch.database);
    kafka = testKafka();
  });
  afterAll(async () => {
    for (const ingest of running) await ingest.stop();
    await store.close();
    await quietly('drop ClickHouse database', () => ch.drop());
  });

  it('a v2 record with malformed events: each goes to the dead-letter topic alone, every other event is stored exactly once', async () => {
    const { topic, dlq } = await createTestTopics(kafka, 1);
    const consumerId = `c-${randomId()}`;
    const before = Array.from({ length: 5 }, () => makeEvent({ consumerId }));
    const after = Array.from({ length: 7 }, () => makeEvent({ consumerId }));
    const unknownVersion = JSON.stringify({ ...makeEvent({ consumerId }), type: 'tollgate.usage.v9' });
    const wrongField = JSON.stringify({
      ...makeEvent({ consumerId }),
      data: { ...makeEvent({ consumerId }).data, status: 'ok' },
    });
    // The schema accepts it, the table cannot hold it (units is a UInt32).
    const tooManyUnits = JSON.stringify(makeEvent({ consumerId, units: 2 ** 32 }));
    const malformed = ['{not json', unknownVersion, wrongField, tooManyUnits];
    const { records } = await produce(
      kafka,
      topic,
      // The first event again at the end: the same id twice in one record is stored once.
      [...before, ...malformed.map((raw) => ({ raw })), ...after, before[0]!],
      { eventsPerRecord: 1000 },
    );
    expect(records).toBe(1);

    const groupId = `metering-${randomId()}`;
    const ingest = await startTestIngest({
      kafka,
      store: store.runner,
      topic,
      deadLetterTopic: dlq,
      groupId,
    });
    running.push(ingest);
    await waitForCaughtUp(kafka, groupId, topic);

    // Every valid event once, physically: no copy of the record's other events, no duplicate.
    expect(await countRows(store.runner, 'SELECT count() AS n FROM usage_events_v1')).toBe(12);
    const ids = await store.runner.rows<{ event_id: string }>('SELECT event_id FROM usage_events_v1');
    expect(ids.map((r) => r.event_id).sort()).toEqual([...before, ...after].map((e) => e.id).sort());
    const totals = await createUsageStore(store.runner).totals({
      consumerId,
      from: new Date(Date.now() - 3_600_000),
      to: new Date(Date.now() + 3_600_000),
    });
    expect(totals.requests).toBe(12);

    // The offset is committed only after the dead letters were acknowledged: they are all there.
    expect(await recordCount(kafka, dlq)).toBe(4);
    const dead = await readTopic(kafka, dlq, 4);
    expect(dead.map((m) => m.value)).toEqual(malformed);
    expect(dead.map((m) => m.headers[DEAD_LETTER_REASON_HEADER])).toEqual([
      'not JSON',
      'unknown event type "tollgate.usage.v9"',
      expect.stringMatching(/^invalid event: data\.status /),
      `units out of range: ${2 ** 32}`,
    ]);
    expect(dead.map((m) => m.headers[DEAD_LETTER_INDEX_HEADER])).toEqual(['5', '6', '7', '8']);
    for (const m of dead) {
      expect(m.headers['tollgate-source-topic']).toBe(topic);
      expect(m.headers['tollgate-source-partition']).toBe('0');
      expect(m.headers['tollgate-source-offset']).toBe('0');
    }
    expect(ingest.status().deadLetters).toBe(4);
    expect(ingest.status().storedRows).toBe(12);
    expect(ingest.status().duplicateEvents).toBe(1);
  }, 120_000);

  it('a record that is not a usage batch is one dead letter, whole, and the records after it are stored', async () => {
    const { topic, dlq } = await createTestTopics(kafka, 1);
    const consumerId = `c-${randomId()}`;
    const event = makeEvent({ consumerId });
    await produceRawRecords(kafka, topic, [
      // A v1-style record: one event, no content-type.
      { value: JSON.stringify(event) },
      { value: JSON.stringify(event), headers: { [CONTENT_TYPE_HEADER]: 'application/json' } },
      { value: null, headers: { [CONTENT_TYPE_HEADER]: USAGE_RECORD_CONTENT_TYPE } },
      { value: '\n\n', headers: { [CONTENT_TYPE_HEADER]: USAGE_RECORD_CONTENT_TYPE } },
    ]);
    const good = Array.from({ length: 3 }, () => makeEvent({ consumerId }));
    await produce(kafka, topic, good);

    const groupId = `metering-${randomId()}`;
    const ingest = await startTestIngest({
      kafka,
      store: store.runner,
      topic,
      deadLetterTopic: dlq,
      groupId,
    });
    running.push(ingest);
    await waitForCaughtUp(kafka, groupId, topic);

    const ids = await store.runner.rows<{ event_id: string }>(
      `SELECT event_id FROM usage_events_v1 WHERE consumer_id = '${consumerId}'`,
    );
    expect(ids.map((r) => r.event_id).sort()).toEqual(good.map((e) => e.id).sort());
    expect(await recordCount(kafka, dlq)).toBe(4);
    const dead = await readTopic(kafka, dlq, 4);
    expect(dead.map((m) => m.headers[DEAD_LETTER_REASON_HEADER])).toEqual([
      'not a usage batch: missing or unknown content-type',
      'not a usage batch: missing or unknown content-type',
      'empty message value',
      'no events in the record',
    ]);
    expect(dead.map((m) => m.headers['tollgate-source-offset'])).toEqual(['0', '1', '2', '3']);
    expect(dead[0]!.value).toBe(JSON.stringify(event));
    expect(dead.every((m) => m.headers[DEAD_LETTER_INDEX_HEADER] === undefined)).toBe(true);
  }, 120_000);
});
