import { applyClickhouseMigrations, createUsageStore } from '@tollgate/clickhouse';
import { CLICKHOUSE_MIGRATIONS_DIR } from '@tollgate/clickhouse/testing';
import type { UsageEventV1 } from '@tollgate/core';
import type { Kafka } from '@tollgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateStack, startPrivateStack } from '../../../infra/testing/stack.ts';
import type { Ingest } from '../src/ingest/start-ingest.ts';
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
 * Acceptance: ClickHouse stopped for at least 10 seconds during ingest. The ingest pauses the
 * partitions and retries with backoff (no crash loop); once ClickHouse is back, every event is
 * stored exactly once as far as any total can tell. Runs against a PRIVATE ClickHouse (the
 * shared one is never stopped) and the shared Kafka with a unique topic.
 */
describe('ingest.clickhouse-outage', () => {
  let stack: PrivateStack;
  let store: ReturnType<typeof clickhouseRunner>;
  let kafka: Kafka;
  let ingest: Ingest | undefined;

  beforeAll(async () => {
    stack = await startPrivateStack({ services: ['clickhouse'] });
    const url = stack.env.CLICKHOUSE_URL!;
    await applyClickhouseMigrations({ url, database: 'metering_outage', dir: CLICKHOUSE_MIGRATIONS_DIR });
    store = clickhouseRunner(url, 'metering_outage');
    kafka = testKafka();
  }, 240_000);
  afterAll(async () => {
    await ingest?.stop();
    await store?.close();
    await stack?.destroy();
  }, 120_000);

  it('ClickHouse down for 10 s during ingest: afterwards nothing is missing and nothing is doubled', async () => {
    const { topic, dlq } = await createTestTopics(kafka, 3);
    const consumerId = `c-${randomId()}`;
    const now = Date.now();
    const batch = (n: number, offset: number): UsageEventV1[] =>
      Array.from({ length: n }, (_, i) =>
        makeEvent({
          consumerId,
          time: new Date(now - ((offset + i) % 900) * 1000),
          units: 1 + ((offset + i) % 4),
        }),
      );
    const before = batch(2000, 0);
    const during = batch(3000, 2000);
    const after = batch(1000, 5000);

    const groupId = `metering-${randomId()}`;
    ingest = await startTestIngest({ kafka, store: store.runner, topic, deadLetterTopic: dlq, groupId });
    await produce(kafka, topic, before);
    await waitForCaughtUp(kafka, groupId, topic);

    await stack.stop('clickhouse');
    const downAt = Date.now();
    await produce(kafka, topic, during);
    // The ingest notices: its partitions wait out a backoff instead of crashing.
    await waitFor('partitions to pause', async () => ingest!.status().pausedPartitions.length > 0, 30_000);
    expect(ingest.status().lastError).not.toBeNull();
    // Hold the outage for at least 10 s (the scenario under test), checking it stays paused.
    await waitFor('10 s of outage', async () => Date.now() - downAt >= 10_500, 20_000, 500);
    expect(ingest.status().running).toBe(true);
    await stack.start('clickhouse');
    await produce(kafka, topic, after);
    await waitForCaughtUp(kafka, groupId, topic, 120_000);

    const all = [...before, ...during, ...after];
    expect(await countRows(store.runner, 'SELECT uniqExact(event_id) AS n FROM usage_events_v1')).toBe(6000);
    const rows = await countRows(store.runner, 'SELECT count() AS n FROM usage_events_v1');
    expect(rows).toBeGreaterThanOrEqual(6000);
    const totals = await createUsageStore(store.runner).totals({
      consumerId,
      from: new Date(now - 3_600_000),
      to: new Date(now + 3_600_000),
    });
    expect(totals).toEqual({
      requests: 6000,
      billableUnits: all.reduce((s, e) => s + e.data.units, 0),
      errors: 0,
    });
    expect(ingest.status()).toMatchObject({ running: true, pausedPartitions: [], lastError: null });
  }, 240_000);
});
