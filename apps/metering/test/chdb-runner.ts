import type { SqlRunner } from '@tollgate/clickhouse';
import { Session } from 'chdb';

/**
 * A SqlRunner over chdb: current ClickHouse (26.x) embedded in this process. The same SQL the
 * server adapter sends to 18.16 goes through it unchanged. The session's default database is
 * switched with USE so the unqualified table names of migrations and queries resolve as they do
 * on the server, where the HTTP client names the database.
 */
export function createChdbRunner(database: string): { runner: SqlRunner; session: Session } {
  const session = new Session();
  session.query(`CREATE DATABASE IF NOT EXISTS ${database}`);
  session.query(`USE ${database}`);
  const rows = async <T>(sql: string): Promise<T[]> => {
    const text = (await session.queryAsync(sql, { format: 'JSONEachRow' })).text();
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as T);
  };
  return {
    session,
    runner: {
      rows,
      async *stream<T>(sql: string): AsyncIterable<T> {
        for (const row of await rows<T>(sql)) yield row;
      },
      async command(sql: string) {
        await session.queryAsync(sql);
      },
      async insert(table: string, values: readonly object[]) {
        if (values.length === 0) return;
        const body = values.map((v) => JSON.stringify(v)).join('\n');
        await session.queryAsync(`INSERT INTO ${table} FORMAT JSONEachRow\n${body}`);
      },
      async insertTabSeparated(table: string, columns: readonly string[], lines: readonly string[]) {
        if (lines.length === 0) return;
        await session.queryAsync(
          `INSERT INTO ${table} (${columns.join(', ')}) FORMAT TabSeparated\n${lines.join('\n')}`,
        );
      },
      async ping() {
        return (await rows<{ v: number }>('SELECT 1 AS v'))[0]?.v === 1;
      },
    },
  };
}
