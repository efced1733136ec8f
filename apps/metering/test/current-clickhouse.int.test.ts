import {
  createUsageStore,
  GRANULARITIES,
  GROUP_BYS,
  readClickhouseMigrations,
  type SqlRunner,
  sqlString,
} from '@tollgate/clickhouse';
import {
  CLICKHOUSE_MIGRATIONS_DIR,
  createTestClickhouseDatabase,
  type TestClickhouseDatabase,
} from '@tollgate/clickhouse/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseDateTime, toUsageEventRow, type UsageEventRow } from '../src/ingest/event-row.ts';
import { dropExpiredPartitions } from '../src/retention/drop-expired-partitions.ts';
import { createChdbRunner } from './chdb-runner.ts';
import { quietly } from './cleanup.ts';
import { clickhouseRunner, makeEvent } from './helpers.ts';

/**
 * Acceptance: the same migrations and the same queries give the same results on the local
 * ClickHouse 18.16 server and on current ClickHouse (26.x, embedded through chdb).
 */
describe('current-clickhouse (chdb) agrees with 18.16', () => {
  let ch: TestClickhouseDatabase;
  let server: ReturnType<typeof clickhouseRunner>;
  let chdb: ReturnType<typeof createChdbRunner>;

  const consumers = ['c-alpha', 'c-beta', "c-'quoted'"];
  const base = Date.UTC(2026, 9, 30, 22, 0, 0); // spans Oct and Nov 2026
  const rows: UsageEventRow[] = [];
  for (let i = 0; i < 3000; i++) {
    const e = makeEvent({
      consumerId: consumers[i % 3]!,
      time: new Date(base + i * 97_000),
      apiId: `api-${i % 2}`,
      routeId: `route-${i % 5}`,
      keyId: i % 4 === 0 ? null : `key-${i % 3}`,
      status: i % 13 === 0 ? 502 : i % 7 === 0 ? 404 : 200,
      units: 1 + (i % 4),
      billable: i % 13 !== 0,
      latencyMs: ((i * 37) % 1000) + 0.25,
    });
    const r = toUsageEventRow(e, new Date(Date.UTC(2026, 10, 21)));
    if (!r.ok) throw new Error(r.reason);
    rows.push(r.row);
  }
  // An old month for retention, and redelivered copies ingested later.
  const old = toUsageEventRow(
    makeEvent({ consumerId: 'c-alpha', time: new Date(Date.UTC(2024, 0, 15)) }),
    new Date(),
  );
  if (!old.ok) throw new Error(old.reason);
  const copies = rows
    .slice(500, 900)
    .map((r) => ({ ...r, ingested_at: clickhouseDateTime(new Date(Date.UTC(2026, 10, 21, 1))) }));

  async function migrate(runner: SqlRunner) {
    for (const file of await readClickhouseMigrations(CLICKHOUSE_MIGRATIONS_DIR)) {
      for (const statement of file.statements) await runner.command(statement);
    }
  }

  beforeAll(async () => {
    ch = await createTestClickhouseDatabase();
    server = clickhouseRunner(ch.url, ch.database);
    chdb = createChdbRunner('metering_chdb');
    await migrate(chdb.runner);
    for (const runner of [server.runner, chdb.runner]) {
      await runner.insert('usage_events_v1', [...rows, old.row]);
      await runner.insert('usage_events_v1', copies);
    }
  }, 120_000);
  afterAll(async () => {
    chdb?.session.close();
    await server?.close();
    if (ch !== undefined) await quietly('drop ClickHouse database', () => ch.drop());
  });

  it('runs on ClickHouse 26.x', async () => {
    const [version] = await chdb.runner.rows<{ v: string }>('SELECT version() AS v');
    expect(Number(version!.v.split('.')[0])).toBeGreaterThanOrEqual(24);
  });

  it('every usage query gives the same result on both', async () => {
    const results = async (runner: SqlRunner) => {
      const q = createUsageStore(runner);
      const from = new Date(Date.UTC(2026, 9, 1));
      const to = new Date(Date.UTC(2026, 11, 1));
      const out: Record<string, unknown> = {};
      for (const consumerId of consumers) {
        out[`totals ${consumerId}`] = await q.totals({ consumerId, from, to });
        out[`latency ${consumerId}`] = await q.latency({ consumerId, from, to });
        for (const granularity of GRANULARITIES) {
          for (const groupBy of [undefined, ...GROUP_BYS]) {
            if (groupBy !== 'key') {
              out[`rollup ${consumerId} ${granularity} ${groupBy}`] = await q.rollupTimeseries({
                consumerId,
                from,
                to,
                granularity,
                groupBy,
              });
            }
            out[`ts ${consumerId} ${granularity} ${groupBy}`] = await q.timeseries({
              consumerId,
              from,
              to,
              granularity,
              groupBy,
            });
          }
        }
      }
      const report = [];
      for await (const row of q.consumerTotals({ from, to })) report.push(row);
      out.report = report;
      // 64-bit integers are JSON strings on 18.16 and numbers on 26.x (output_format_json_quote_64bit_integers
      // changed default); the usage queries normalise with Number(), and so does this raw read.
      const numbers = (rs: Record<string, unknown>[]) =>
        rs.map((r) => ({ ...r, r: Number(r.r), u: Number(r.u), ...('e' in r ? { e: Number(r.e) } : {}) }));
      out.rollupHourly = numbers(
        await runner.rows(
          'SELECT consumer_id, toString(bucket) AS b, route_id, status, sum(requests) AS r, sum(billable_units) AS u, sum(errors) AS e ' +
            'FROM usage_rollup_hourly_v1 GROUP BY consumer_id, b, route_id, status ORDER BY consumer_id, b, route_id, status',
        ),
      );
      out.rollupDaily = numbers(
        await runner.rows(
          'SELECT consumer_id, toString(bucket) AS b, sum(requests) AS r, sum(billable_units) AS u FROM usage_rollup_daily_v1 ' +
            'GROUP BY consumer_id, b ORDER BY consumer_id, b',
        ),
      );
      return out;
    };
    const [old18, current] = [await results(server.runner), await results(chdb.runner)];
    expect(current).toEqual(old18);
    // Sanity: the dedup is doing something, and the figures are not all zero.
    expect(old18[`totals c-alpha`]).toEqual({
      requests: 1000,
      billableUnits: expect.any(Number),
      errors: expect.any(Number),
    });
    expect((old18.report as unknown[]).length).toBe(3);
  });

  it('sqlString literals read back unchanged on 26.x as on 18.16', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary' }), async (value) => {
        const [row] = await chdb.runner.rows<{ v: string }>(`SELECT ${sqlString(value)} AS v`);
        expect(row!.v).toBe(value);
      }),
      { numRuns: 200 },
    );
  });

  it('retention drops the same expired partitions on both', async () => {
    const now = new Date(Date.UTC(2026, 10, 21));
    const onServer = await dropExpiredPartitions(server.runner, {
      database: ch.database,
      retentionMonths: 13,
      now,
    });
    const onChdb = await dropExpiredPartitions(chdb.runner, {
      database: 'metering_chdb',
      retentionMonths: 13,
      now,
    });
    expect(onServer).toEqual([
      { table: 'usage_events_v1', partition: 202401 },
      { table: 'usage_rollup_daily_v1', partition: 202401 },
      { table: 'usage_rollup_hourly_v1', partition: 202401 },
    ]);
    expect(onChdb).toEqual(onServer);
    for (const runner of [server.runner, chdb.runner]) {
      const [left] = await runner.rows<{ n: string | number }>(
        'SELECT count() AS n FROM usage_events_v1 WHERE toYYYYMM(time) = 202401',
      );
      expect(Number(left!.n)).toBe(0);
      const [kept] = await runner.rows<{ n: string | number }>(
        'SELECT uniqExact(event_id) AS n FROM usage_events_v1',
      );
      expect(Number(kept!.n)).toBe(3000);
    }
  });
});
