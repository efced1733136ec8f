import { createUsageStore } from '@tollgate/clickhouse';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import type { Kafka } from '@tollgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ingest } from '../src/ingest/start-ingest.ts';
import { quietly } from './cleanup.ts';
import {
  clickhouseRunner,
  createTestTopics,
  makeEvent,
  produce,
  randomId,
  startTestIngest,
  testKafka,
  waitForCaughtUp,
} from './helpers.ts';

/** Partitions moving between replicas mid-stream (join, then leave) lose and double nothing. */
describe('ingest.rebalance', () => {
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

  it('a replica joining and another leaving during ingest leave totals exact', async () => {
    const { topic, dlq } = await createTestTopics(kafka, 3);
    const groupId = `metering-${randomId()}`;
    const consumers = ['c-1', 'c-2', 'c-3', 'c-4'].map((c) => `${c}-${randomId()}`);
    const events = (n: number) =>
      Array.from({ length: n }, (_, i) => makeEvent({ consumerId: consumers[i % 4]!, units: 1 + (i % 3) }));
    const all = [];
    const start = () => startTestIngest({ kafka, store: store.runner, topic, deadLetterTopic: dlq, groupId });

    const a = await start();
    running.push(a);
    const first = events(1500);
    all.push(...first);
    await produce(kafka, topic, first);
    const b = await start();
    running.push(b);
    const second = events(1500);
    all.push(...second);
    await produce(kafka, topic, second);
    await a.stop();
    const third = events(1000);
    all.push(...third);
    await produce(kafka, topic, third);
    await waitForCaughtUp(kafka, groupId, topic);

    const usage = createUsageStore(store.runner);
    const range = { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 3_600_000) };
    for (const consumerId of consumers) {
      const mine = all.filter((e) => e.data.consumerId === consumerId);
      expect(await usage.totals({ consumerId, ...range })).toEqual({
        requests: mine.length,
        billableUnits: mine.reduce((s, e) => s + e.data.units, 0),
        errors: 0,
      });
    }
  }, 120_000);
});
