import type { SqlRunner } from '@tollgate/clickhouse';
import { createUsageStore } from '@tollgate/clickhouse';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import { consumerGroupLag, type Kafka } from '@tollgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ingest } from '../src/ingest/start-ingest.ts';
import { quietly } from './cleanup.ts';
import {
  clickhouseRunner,
  countRows,
  createTestTopics,
  makeEvent,
  produce,
  randomId,
  startTestIngest,
  testKafka,
  waitFor,
  waitForCaughtUp,
} from './helpers.ts';

/**
 * Graceful shutdown while inserts fail commits nothing that was not stored, and a restart
 * picks up exactly there. Inserts are made to fail by a switch in front of the real ClickHouse
 * runner (the shared server itself is never stopped).
 */
describe('ingest.shutdown', () => {
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
    for (const i of running) await i.stop();
    await store.close();
    await quietly('drop ClickHouse database', () => ch.drop());
  });

  it('stopping while ClickHouse refuses inserts commits only what was stored; a restart stores the rest once', async () => {
    let broken = false;
    const switched: SqlRunner = {
      ...store.runner,
      insert: async (table, rows) => {
        if (broken) throw new Error('ClickHouse unavailable (injected)');
        await store.runner.insert(table, rows);
      },
      insertTabSeparated: async (table, columns, lines) => {
        if (broken) throw new Error('ClickHouse unavailable (injected)');
        await store.runner.insertTabSeparated(table, columns, lines);
      },
    };
    const { topic, dlq } = await createTestTopics(kafka, 3);
    const consumerId = `c-${randomId()}`;
    const groupId = `metering-${randomId()}`;
    const first = await startTestIngest({ kafka, store: switched, topic, deadLetterTopic: dlq, groupId });
    running.push(first);
    await produce(
      kafka,
      topic,
      Array.from({ length: 1000 }, () => makeEvent({ consumerId })),
    );
    await waitForCaughtUp(kafka, groupId, topic);

    broken = true;
    const { records } = await produce(
      kafka,
      topic,
      Array.from({ length: 500 }, () => makeEvent({ consumerId })),
    );
    await waitFor(
      'a failed insert to pause a partition',
      async () => first.status().pausedPartitions.length > 0,
    );
    await first.stop();
    // Lag counts records (v2: many events each): none of the 500 events' records is committed.
    expect((await consumerGroupLag(kafka, groupId, topic)).total).toBe(records);
    expect(await countRows(store.runner, 'SELECT uniqExact(event_id) AS n FROM usage_events_v1')).toBe(1000);

    broken = false;
    const second = await startTestIngest({ kafka, store: switched, topic, deadLetterTopic: dlq, groupId });
    running.push(second);
    await waitForCaughtUp(kafka, groupId, topic);
    const totals = await createUsageStore(store.runner).totals({
      consumerId,
      from: new Date(Date.now() - 3_600_000),
      to: new Date(Date.now() + 3_600_000),
    });
    expect(totals.requests).toBe(1500);
  }, 120_000);
});
