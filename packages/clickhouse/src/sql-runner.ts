import type { ClickHouseClient } from '@clickhouse/client';

/**
 * The small surface metering needs from a ClickHouse: run SQL text (built only with the
 * functions in sql.ts), read rows as JSON objects, insert rows as JSONEachRow. The server
 * adapter below wraps @clickhouse/client; tests wrap the in-process chdb engine behind the same
 * interface, so one set of queries is proven on 18.16 and on current ClickHouse.
 */
export interface SqlRunner {
  /** A SELECT read whole, one object per row (JSONEachRow). */
  rows<T>(sql: string): Promise<T[]>;
  /** A SELECT read row by row, for results too large to hold (reports). */
  stream<T>(sql: string): AsyncIterable<T>;
  /** DDL or any statement without a result. */
  command(sql: string): Promise<void>;
  /** Inserts rows as JSONEachRow into `table` (an identifier, never user input). */
  insert(table: string, rows: readonly object[]): Promise<void>;
  ping(): Promise<boolean>;
}

export function createSqlRunner(client: ClickHouseClient): SqlRunner {
  return {
    async rows<T>(sql: string): Promise<T[]> {
      const result = await client.query({ query: sql, format: 'JSONEachRow' });
      return result.json<T>();
    },
    async *stream<T>(sql: string): AsyncIterable<T> {
      const result = await client.query({ query: sql, format: 'JSONEachRow' });
      for await (const rows of result.stream()) {
        for (const row of rows) yield row.json<T>();
      }
    },
    async command(sql: string): Promise<void> {
      await client.command({ query: sql });
    },
    async insert(table: string, rows: readonly object[]): Promise<void> {
      if (rows.length === 0) return;
      await client.insert({ table, values: rows as object[], format: 'JSONEachRow' });
    },
    async ping(): Promise<boolean> {
      const result = await client.ping();
      return result.success;
    },
  };
}
