import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../../infra/testing/stack.ts';
import { SERVICE_TOKEN } from './accounts.ts';
import { quietly } from './cleanup.ts';
import { kafkaBrokers, makeEvent, produce, randomId, testKafka, waitFor } from './helpers.ts';

/** main.ts end to end: boots from env, creates its topics, ingests, answers, stops cleanly on SIGTERM. */
describe('main', () => {
  let ch: TestClickhouseDatabase;
  let db: TestDatabase;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    [ch, db] = await Promise.all([createTestClickhouseDatabase(), createTestDatabase()]);
  });
  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await Promise.all([quietly('drop ClickHouse database', () => ch.drop()), db.drop()]);
  });

  it('boots from its config, ingests, serves the usage API and shuts down gracefully', async () => {
    const [port] = await freePorts(1);
    const topic = `tollgate.usage.v2.test-${randomId()}`;
    child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'main.ts')], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: db.url,
        KAFKA_BROKERS: kafkaBrokers().join(','),
        CLICKHOUSE_URL: ch.url,
        CLICKHOUSE_DATABASE: ch.database,
        METERING_PORT: String(port),
        METERING_SERVICE_TOKEN: SERVICE_TOKEN,
        USAGE_TOPIC: topic,
        USAGE_DEAD_LETTER_TOPIC: `${topic}.dlq`,
        METERING_CONSUMER_GROUP: `metering-${randomId()}`,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      'metering to be ready',
      async () => (await fetch(`${base}/readyz`)).status === 200,
      60_000,
      250,
    );

    const consumerId = `c-${randomId()}`;
    // zstd, in records of 10, as the gateway's sink sends them: the process reads its codec.
    await produce(
      testKafka(),
      topic,
      Array.from({ length: 25 }, () => makeEvent({ consumerId, units: 2 })),
      { eventsPerRecord: 10, compression: 'zstd' },
    );
    const url = `${base}/v1/usage/totals?consumerId=${consumerId}&from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;
    const totals = await waitFor('the events to be queryable', async () => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } });
      const body = (await res.json()) as { requests: number; billableUnits: number };
      return body.requests === 25 ? body : undefined;
    });
    expect(totals.billableUnits).toBe(50);
    expect((await fetch(`${base}/v1/usage/totals`)).status).toBe(401);
    // The rows are queryable as soon as ClickHouse has them; the counter moves when metering's
    // insert call returns, a moment later: poll for it, then it must be exactly 25.
    const metrics = await waitFor('the stored-events counter to reach 25', async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const stored = /^tollgate_metering_events_stored_total (\d+)$/m.exec(text);
      return stored !== null && Number(stored[1]) >= 25 ? text : undefined;
    });
    expect(metrics).toMatch(/^tollgate_metering_events_stored_total 25$/m);
    expect(metrics).toMatch(/^tollgate_metering_paused_partitions 0$/m);
    expect(metrics).toContain('tollgate_metering_insert_duration_seconds_count');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);

  it('refuses to boot with a bad config and names every bad variable', async () => {
    const run = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'main.ts')],
      {
        env: { PATH: process.env.PATH, METERING_SERVICE_TOKEN: 'short', METERING_BATCH_MAX_ROWS: '-1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    run.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => run.on('exit', resolve));
    expect(code).toBe(1);
    for (const name of [
      'DATABASE_URL',
      'KAFKA_BROKERS',
      'CLICKHOUSE_URL',
      'METERING_SERVICE_TOKEN',
      'METERING_BATCH_MAX_ROWS',
    ]) {
      expect(stderr).toContain(name);
    }
  }, 60_000);
});
