import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createUsageStore, type UsageStore } from '@tollgate/clickhouse';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import type { UsageEventV1 } from '@tollgate/core';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { consumerGroupLag, type Kafka } from '@tollgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ingest } from '../src/ingest/start-ingest.ts';
import { type Account, auth, createAccount, testApp } from './accounts.ts';
import { quietly } from './cleanup.ts';
import {
  clickhouseRunner,
  countRows,
  createTestTopics,
  kafkaBrokers,
  makeEvent,
  produce,
  randomId,
  startTestIngest,
  testKafka,
  waitForCaughtUp,
} from './helpers.ts';

/**
 * Acceptance: a crash between insert and commit, producer duplicates, and a full replay of the
 * topic from offset 0 with a new group leave every total and the finance report unchanged.
 */
describe('ingest.effectively-once', () => {
  let ch: TestClickhouseDatabase;
  let db: TestDatabase;
  let store: ReturnType<typeof clickhouseRunner>;
  let usage: UsageStore;
  let kafka: Kafka;
  const running: Ingest[] = [];

  beforeAll(async () => {
    [ch, db] = await Promise.all([createTestClickhouseDatabase(), createTestDatabase()]);
    store = clickhouseRunner(ch.url, ch.database);
    usage = createUsageStore(store.runner);
    kafka = testKafka();
  });
  afterAll(async () => {
    for (const i of running) await i.stop();
    await store.close();
    await Promise.all([quietly('drop ClickHouse database', () => ch.drop()), db.drop()]);
  });

  it('a crash between insert and commit, duplicates and a replay from offset 0 change no total and no report', async () => {
    const { topic, dlq } = await createTestTopics(kafka, 3);
    const accounts: Account[] = [];
    for (let i = 0; i < 3; i++) {
      accounts.push(
        await createAccount(db.prisma, {
          quota: 1000,
          priceCents: 1500,
          capMode: 'soft',
          overageUnitPriceDecimal: '0.25',
        }),
      );
    }
    const consumerIds = [...accounts.map((a) => a.consumerId), `unknown-${randomId()}`];
    const now = Date.now();
    const events: UsageEventV1[] = [];
    for (let i = 0; i < 4000; i++) {
      events.push(
        makeEvent({
          consumerId: consumerIds[i % consumerIds.length]!,
          time: new Date(now - (i % 600) * 1000),
          routeId: `route-${i % 5}`,
          status: i % 17 === 0 ? 503 : i % 11 === 0 ? 429 : 200,
          billable: i % 11 !== 0,
          units: 1 + (i % 3),
          latencyMs: (i % 100) + 0.5,
        }),
      );
    }
    // The producer retried: 300 events were written twice.
    const { records } = await produce(kafka, topic, [...events, ...events.slice(1000, 1300)]);

    const groupId = `metering-${randomId()}`;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'fixtures', 'ingest-then-crash.ts'),
        JSON.stringify({
          brokers: kafkaBrokers(),
          topic,
          dlq,
          groupId,
          clickhouseUrl: ch.url,
          database: ch.database,
        }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, sig) => resolve(sig)),
    );
    expect(signal).toBe('SIGKILL');
    expect(output).toMatch(/^inserted \d+ rows of partition \d, dying before commit/);
    // The insert landed, the commit did not.
    expect(await countRows(store.runner, 'SELECT count() AS n FROM usage_events_v1')).toBeGreaterThan(0);
    // Lag counts records (v2: many events each): none of them is committed.
    expect((await consumerGroupLag(kafka, groupId, topic)).total).toBe(records);

    // The same group takes over and redelivers the uncommitted batch.
    const first = await startTestIngest({ kafka, store: store.runner, topic, deadLetterTopic: dlq, groupId });
    running.push(first);
    await waitForCaughtUp(kafka, groupId, topic);
    await first.stop();

    const range = { from: new Date(now - 3_600_000), to: new Date(now + 3_600_000) };
    const query = `from=${range.from.toISOString()}&to=${range.to.toISOString()}`;
    const app = testApp(usage, db.prisma);
    async function snapshot() {
      const totals = await Promise.all(
        consumerIds.map((consumerId) => usage.totals({ consumerId, ...range })),
      );
      const timeseries = await usage.timeseries({
        consumerId: consumerIds[0]!,
        ...range,
        granularity: 'hour',
        groupBy: 'route',
      });
      const latency = await usage.latency({ consumerId: consumerIds[1]!, ...range });
      const json = await app.inject({ url: `/v1/reports/finance?${query}&format=json`, headers: auth });
      const csv = await app.inject({ url: `/v1/reports/finance?${query}&format=csv`, headers: auth });
      expect(json.statusCode).toBe(200);
      expect(csv.statusCode).toBe(200);
      return { totals, timeseries, latency, financeJson: json.json(), financeCsv: csv.body };
    }

    const afterCrash = await snapshot();
    const expected = (consumerId: string) => {
      const mine = events.filter((e) => e.data.consumerId === consumerId);
      return {
        requests: mine.length,
        billableUnits: mine.reduce((s, e) => s + (e.data.billable ? e.data.units : 0), 0),
        errors: mine.filter((e) => e.data.status >= 400).length,
      };
    };
    expect(afterCrash.totals).toEqual(consumerIds.map(expected));
    expect(await countRows(store.runner, 'SELECT uniqExact(event_id) AS n FROM usage_events_v1')).toBe(4000);
    // Copies are physically present (crash redelivery + producer duplicates) yet counted once.
    expect(await countRows(store.runner, 'SELECT count() AS n FROM usage_events_v1')).toBeGreaterThanOrEqual(
      4000,
    );

    const report = afterCrash.financeJson as {
      consumers: { consumerId: string; requests: number; amountCents: number }[];
    };
    expect(report.consumers.reduce((s, c) => s + c.requests, 0)).toBe(4000);
    for (const account of accounts) {
      const row = report.consumers.find((c) => c.consumerId === account.consumerId)!;
      const units = expected(account.consumerId).billableUnits;
      // 1500 flat + 0.25 cent per unit over 1000, rounded half up once.
      expect(row.amountCents).toBe(1500 + Math.floor(((units - 1000) * 25 + 50) / 100));
    }

    // Replay the whole topic from offset 0 with a new group.
    const replayGroup = `metering-replay-${randomId()}`;
    const replay = await startTestIngest({
      kafka,
      store: store.runner,
      topic,
      deadLetterTopic: dlq,
      groupId: replayGroup,
    });
    running.push(replay);
    await waitForCaughtUp(kafka, replayGroup, topic);
    // The replay really processed every event again (4000 events + 300 producer duplicates):
    // each was inserted, or left out of an insert that already held its id. Counted on the
    // ingest side: ClickHouse may merge the physical copies away at any time.
    const replayed = replay.status();
    expect(replayed.storedRows).toBeGreaterThanOrEqual(4000);
    expect(replayed.storedRows + replayed.duplicateEvents).toBeGreaterThanOrEqual(4300);
    await replay.stop();

    expect(await snapshot()).toEqual(afterCrash);
    // The killed member holds its partitions until its session times out (30 s): allow for that.
  }, 240_000);
});
