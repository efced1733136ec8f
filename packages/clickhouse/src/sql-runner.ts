import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
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
  /**
   * Inserts rows already serialized as TabSeparated lines (values escaped, no newline inside)
   * into `columns` of `table` (identifiers, never user input): the body is their concatenation,
   * nothing is parsed or serialized again (metering's ingest builds its rows as text).
   */
  insertTabSeparated(table: string, columns: readonly string[], lines: readonly string[]): Promise<void>;
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
    async insertTabSeparated(
      table: string,
      columns: readonly string[],
      lines: readonly string[],
    ): Promise<void> {
      if (lines.length === 0) return;
      // exec() sends a byte stream as the body as it is.
      const body = Readable.from([Buffer.from(`${lines.join('\n')}\n`)], { objectMode: false });
      const { stream } = await client.exec({
        query: `INSERT INTO ${table} (${columns.join(', ')}) FORMAT TabSeparated`,
        values: body,
      });
      // An INSERT answers with an empty body; reading it to the end frees the socket for reuse.
      stream.resume();
      await finished(stream);
    },
    async ping(): Promise<boolean> {
      const result = await client.ping();
      return result.success;
    },
  };
}
