import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClickHouseClient, createClickhouse } from './client.ts';
import { applyClickhouseMigrations, splitStatements } from './migrations.ts';
import {
  CLICKHOUSE_MIGRATIONS_DIR,
  createTestClickhouseDatabase,
  type TestClickhouseDatabase,
} from './testing.ts';

function usageRow(eventId: string, overrides: Record<string, unknown> = {}) {
  return {
    event_id: eventId,
    time: '2026-11-21 12:34:56',
    time_ms: 789,
    source: 'gateway/test',
    consumer_id: 'consumer-1',
    key_id: 'key-1',
    plan_id: 'plan-1',
    subscription_id: 'sub-1',
    api_id: 'api-1',
    route_id: 'route-1',
    method: 'GET',
    status: 200,
    bytes_in: 12,
    bytes_out: 3456,
    latency_ms: 1.5,
    units: 1,
    billable: 1,
    ...overrides,
  };
}

describe('clickhouse migrations', () => {
  let ch: TestClickhouseDatabase;
  let client: ClickHouseClient;

  beforeAll(async () => {
    ch = await createTestClickhouseDatabase();
    client = createClickhouse({
      url: ch.url,
      database: ch.database,
      username: ch.username,
      password: ch.password,
    });
  });

  afterAll(async () => {
    await client?.close();
    await ch?.drop();
  });

  it('applies every file once: a second run into the same database applies nothing', async () => {
    const logged: string[] = [];
    const again = await applyClickhouseMigrations({
      url: ch.url,
      database: ch.database,
      dir: CLICKHOUSE_MIGRATIONS_DIR,
      log: (m) => logged.push(m),
    });
    expect(again).toEqual([]);
    expect(logged).toEqual([]);
    const rows = await (
      await client.query({
        query: 'SELECT version FROM schema_migrations ORDER BY version',
        format: 'JSONEachRow',
      })
    ).json<{ version: string }>();
    expect(rows.map((r) => r.version)).toContain('0001');
  });

  it('a fresh database gets every migration, in order', async () => {
    const database = `${ch.database}_fresh`;
    try {
      const first = await applyClickhouseMigrations({
        url: ch.url,
        database,
        dir: CLICKHOUSE_MIGRATIONS_DIR,
      });
      expect(first[0]).toBe('0001_usage_events.sql');
      expect([...first].sort()).toEqual(first);
      expect(
        await applyClickhouseMigrations({ url: ch.url, database, dir: CLICKHOUSE_MIGRATIONS_DIR }),
      ).toEqual([]);
    } finally {
      await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    }
  });

  it('a usage row written with JSONEachRow reads back field for field', async () => {
    const row = usageRow('0190f3a2-0000-7000-8000-000000000001');
    await client.insert({ table: 'usage_events_v1', values: [row], format: 'JSONEachRow' });
    const [read] = await (
      await client.query({
        query: `SELECT * FROM usage_events_v1 WHERE event_id = '${row.event_id}'`,
        format: 'JSONEachRow',
      })
    ).json<Record<string, unknown>>();
    expect(read).toBeDefined();
    // 64-bit integers come back as strings (ClickHouse's JSON default keeps them exact).
    expect({ ...read, bytes_in: Number(read!.bytes_in), bytes_out: Number(read!.bytes_out) }).toMatchObject(
      row,
    );
    expect(read!.ingested_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });

  it('a redelivered event id counts once with FINAL', async () => {
    const id = '0190f3a2-0000-7000-8000-0000000000d1';
    const consumer = 'consumer-dup';
    await client.insert({
      table: 'usage_events_v1',
      values: [usageRow(id, { consumer_id: consumer })],
      format: 'JSONEachRow',
    });
    // A second insert is a separate part, as a Kafka redelivery would be.
    await client.insert({
      table: 'usage_events_v1',
      values: [usageRow(id, { consumer_id: consumer, ingested_at: '2026-11-21 13:00:00' })],
      format: 'JSONEachRow',
    });
    const count = async (final: string) => {
      const [row] = await (
        await client.query({
          query: `SELECT count() AS n, sum(units) AS units FROM usage_events_v1 ${final} WHERE consumer_id = '${consumer}'`,
          format: 'JSONEachRow',
        })
      ).json<{ n: string; units: string }>();
      return { n: Number(row!.n), units: Number(row!.units) };
    };
    expect(await count('')).toEqual({ n: 2, units: 2 });
    expect(await count('FINAL')).toEqual({ n: 1, units: 1 });
  });
});

describe('splitStatements', () => {
  it('splits on semicolons at line ends and drops comment lines', () => {
    const sql =
      "-- a comment; with a semicolon\nCREATE TABLE a (x String DEFAULT ';');\n\nSELECT 1;\n-- trailing\n";
    expect(splitStatements(sql)).toEqual(["CREATE TABLE a (x String DEFAULT ';')", 'SELECT 1']);
  });
});
