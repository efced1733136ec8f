import { createUsageStore } from '@tollgate/clickhouse';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import type { UsageEventV1 } from '@tollgate/core';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import type { Kafka } from '@tollgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ingest } from '../src/ingest/start-ingest.ts';
import { FINANCE_CSV_COLUMNS } from '../src/usage/build-finance-report.ts';
import { auth, createAccount, testApp } from './accounts.ts';
import { quietly } from './cleanup.ts';
import { parseCsv } from './csv-parse.ts';
import {
  clickhouseRunner,
  countRows,
  createTestTopics,
  makeEvent,
  produce,
  randomId,
  startTestIngest,
  testKafka,
  waitForCaughtUp,
} from './helpers.ts';

/**
 * Acceptance: for a generated dataset of 100,000 events (plus 5,000 redelivered copies), the CSV
 * finance report, the JSON finance report and the count of distinct event ids agree. Account
 * names are chosen to need CSV quoting and formula neutralization.
 */
describe('report.finance.100k', () => {
  let ch: TestClickhouseDatabase;
  let db: TestDatabase;
  let store: ReturnType<typeof clickhouseRunner>;
  let kafka: Kafka;
  let ingest: Ingest | undefined;

  beforeAll(async () => {
    [ch, db] = await Promise.all([createTestClickhouseDatabase(), createTestDatabase()]);
    store = clickhouseRunner(ch.url, ch.database);
    kafka = testKafka();
  });
  afterAll(async () => {
    await ingest?.stop();
    await store.close();
    await Promise.all([quietly('drop ClickHouse database', () => ch.drop()), db.drop()]);
  });

  it('CSV report = JSON report = count of distinct event ids for 100,000 events', async () => {
    const names = [
      'Acme, Inc.',
      'The "Quoted" Co',
      '=HYPERLINK("http://x")',
      '-2+3',
      '@home',
      'Line\r\nBreak',
      'Plain',
    ];
    const accounts = [];
    for (const name of names) {
      accounts.push(
        await createAccount(db.prisma, {
          name,
          quota: 5000,
          priceCents: 2900,
          capMode: 'soft',
          overageUnitPriceDecimal: '0.1',
        }),
      );
    }
    const consumerIds = [
      ...accounts.map((a) => a.consumerId),
      ...Array.from({ length: 13 }, () => `anon-${randomId()}`),
    ];
    const now = Date.now();
    const events: UsageEventV1[] = [];
    for (let i = 0; i < 100_000; i++) {
      events.push(
        makeEvent({
          consumerId: consumerIds[i % consumerIds.length]!,
          time: new Date(now - (i % 3600) * 1000),
          routeId: `route-${i % 7}`,
          status: i % 23 === 0 ? 500 : 200,
          units: 1 + (i % 2),
          billable: i % 23 !== 0,
        }),
      );
    }
    const { topic, dlq } = await createTestTopics(kafka, 3);
    await produce(kafka, topic, [...events, ...events.slice(40_000, 45_000)]);

    const groupId = `metering-${randomId()}`;
    ingest = await startTestIngest({ kafka, store: store.runner, topic, deadLetterTopic: dlq, groupId });
    await waitForCaughtUp(kafka, groupId, topic, 240_000);

    const distinct = await countRows(store.runner, 'SELECT uniqExact(event_id) AS n FROM usage_events_v1');
    expect(distinct).toBe(100_000);

    const app = testApp(createUsageStore(store.runner), db.prisma);
    const query = `from=${new Date(now - 86_400_000).toISOString()}&to=${new Date(now + 60_000).toISOString()}`;
    const jsonRes = await app.inject({ url: `/v1/reports/finance?${query}&format=json`, headers: auth });
    const csvRes = await app.inject({ url: `/v1/reports/finance?${query}&format=csv`, headers: auth });
    expect(jsonRes.statusCode).toBe(200);
    expect(csvRes.statusCode).toBe(200);
    expect(csvRes.headers['content-type']).toBe('text/csv; charset=utf-8');

    const json = jsonRes.json() as {
      consumers: {
        consumerId: string;
        consumerName: string | null;
        plan: string | null;
        requests: number;
        billableUnits: number;
        errors: number;
        amountCents: number;
        currency: string | null;
      }[];
    };
    const [header, ...records] = parseCsv(csvRes.body);
    expect(header).toEqual([...FINANCE_CSV_COLUMNS]);
    expect(records).toHaveLength(json.consumers.length);
    expect(json.consumers).toHaveLength(consumerIds.length);

    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(json.consumers.map((c) => c.requests))).toBe(distinct);
    expect(sum(records.map((r) => Number(r[3])))).toBe(distinct);

    // Row by row, the CSV says what the JSON says; text cells are only formula-neutralized.
    const neutral = (v: string | null) => (v === null ? '' : /^[=+\-@\t\r]/.test(v) ? `'${v}` : v);
    expect(records).toEqual(
      json.consumers.map((c) => [
        c.consumerId,
        neutral(c.consumerName),
        neutral(c.plan),
        String(c.requests),
        String(c.billableUnits),
        String(c.errors),
        String(c.amountCents),
        neutral(c.currency),
      ]),
    );
    expect(records.map((r) => r[1])).toEqual(
      expect.arrayContaining(['\'=HYPERLINK("http://x")', "'-2+3", "'@home", 'Acme, Inc.']),
    );

    // And both agree with the events themselves.
    for (const c of json.consumers) {
      const mine = events.filter((e) => e.data.consumerId === c.consumerId);
      expect(c.requests).toBe(mine.length);
      expect(c.billableUnits).toBe(mine.reduce((s, e) => s + (e.data.billable ? e.data.units : 0), 0));
      expect(c.errors).toBe(mine.filter((e) => e.data.status >= 400).length);
    }
  }, 300_000);
});
