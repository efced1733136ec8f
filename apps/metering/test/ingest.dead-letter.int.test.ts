import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import type { Kafka } from '@tollgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_REASON_HEADER, type Ingest } from '../src/ingest/start-ingest.ts';
import { createUsageQueries } from '../src/usage/usage-queries.ts';
import { quietly } from './cleanup.ts';
import {
  clickhouseRunner,
  countRows,
  createTestTopics,
  makeEvent,
  produce,
  randomId,
  readTopic,
  startTestIngest,
  testKafka,
  waitForCaughtUp,
} from './helpers.ts';

describe('ingest.dead-letter', () => {
  let ch: TestClickhouseDatabase;
  let store: ReturnType<typeof clickhouseRunner>;
  let kafka: Kafka;
  let ingest: Ingest | undefined;

  beforeAll(async () => {
    ch = await createTestClickhouseDatabase();
    store = clickhouseRunner(ch.url, ch.database);
    kafka = testKafka();
  });
  afterAll(async () => {
    await ingest?.stop();
    await store.close();
    await quietly('drop ClickHouse database', () => ch.drop());
  });

  it('a poison message lands in the dead-letter topic with its reason and the events after it are stored', async () => {
    // One partition, so the poison sits between good events in the same log.
    const { topic, dlq } = await createTestTopics(kafka, 1);
    const consumerId = `c-${randomId()}`;
    const before = Array.from({ length: 5 }, () => makeEvent({ consumerId }));
    const after = Array.from({ length: 7 }, () => makeEvent({ consumerId }));
    const unknownVersion = { ...makeEvent({ consumerId }), type: 'tollgate.usage.v9' };
    const wrongField = {
      ...makeEvent({ consumerId }),
      data: { ...makeEvent({ consumerId }).data, status: 'ok' },
    };
    await produce(kafka, topic, [
      ...before,
      { key: consumerId, value: '{not json' },
      { key: consumerId, value: JSON.stringify(unknownVersion) },
      { key: consumerId, value: JSON.stringify(wrongField) },
      { key: consumerId, value: null },
      ...after,
    ]);

    const groupId = `metering-${randomId()}`;
    ingest = await startTestIngest({ kafka, store: store.runner, topic, deadLetterTopic: dlq, groupId });
    await waitForCaughtUp(kafka, groupId, topic);

    const stored = await countRows(store.runner, 'SELECT uniqExact(event_id) AS n FROM usage_events_v1');
    expect(stored).toBe(12);
    const totals = await createUsageQueries(store.runner).totals({
      consumerId,
      from: new Date(Date.now() - 3_600_000),
      to: new Date(Date.now() + 3_600_000),
    });
    expect(totals.requests).toBe(12);

    const dead = await readTopic(kafka, dlq, 4);
    expect(dead).toHaveLength(4);
    const reasons = dead.map((m) => m.headers[DEAD_LETTER_REASON_HEADER]);
    expect(reasons).toEqual([
      'not JSON',
      'unknown event type "tollgate.usage.v9"',
      expect.stringMatching(/^invalid event: data\.status /),
      'empty message value',
    ]);
    expect(dead[0]!.value).toBe('{not json');
    expect(dead[0]!.headers['tollgate-source-topic']).toBe(topic);
    expect(dead.map((m) => m.headers['tollgate-source-offset'])).toEqual(['5', '6', '7', '8']);
    expect(ingest.status().deadLetters).toBe(4);
  }, 120_000);
});
