import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createClickhouse } from './client.ts';
import { sqlIdentifier, sqlString } from './sql.ts';

/**
 * A small versioned migration runner for ClickHouse (dbmate's ClickHouse driver needs the
 * native protocol and features 18.16 lacks).
 *
 * Files: `NNNN_name.sql` in `dir`, applied in order of NNNN, each version once, recorded in
 * `schema_migrations` inside the target database. Statements are split on `;` at a line end
 * and sent one by one; table names stay unqualified (the client's `database` picks the target),
 * so the same files migrate `tollgate` and every test database.
 *
 * ClickHouse DDL is not transactional: if a file fails halfway, its earlier statements stay.
 * Write statements that can be re-run (`CREATE TABLE IF NOT EXISTS`, `ADD COLUMN IF NOT
 * EXISTS`) so fixing the file and running again converges. Two runners on the same database at
 * once are not guarded against; run migrations from one place (`npm run migrate`).
 */
export interface ClickhouseMigrationOptions {
  url: string;
  database: string;
  dir: string;
  username?: string;
  password?: string;
  log?: (msg: string) => void;
}

export interface ClickhouseMigrationFile {
  version: string;
  file: string;
  statements: string[];
}

const FILE_PATTERN = /^(\d{4})_[a-z0-9_]+\.sql$/;

/** Splits a migration file into statements: `;` at a line end ends one; full-line `--` comments are dropped. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export async function readClickhouseMigrations(dir: string): Promise<ClickhouseMigrationFile[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const seen = new Map<string, string>();
  const files: ClickhouseMigrationFile[] = [];
  for (const file of names) {
    const match = FILE_PATTERN.exec(file);
    if (match === null) throw new Error(`${join(dir, file)}: migration files are named NNNN_lower_snake.sql`);
    const version = match[1]!;
    const clash = seen.get(version);
    if (clash !== undefined) throw new Error(`${file} and ${clash} share version ${version}`);
    seen.set(version, file);
    files.push({ version, file, statements: splitStatements(await readFile(join(dir, file), 'utf8')) });
  }
  return files;
}

/**
 * Creates `database` if missing and applies the pending migrations from `dir`.
 * Returns the file names applied by this call, in order (empty when up to date).
 */
export async function applyClickhouseMigrations(opts: ClickhouseMigrationOptions): Promise<string[]> {
  const database = sqlIdentifier(opts.database);
  const log = opts.log ?? (() => {});
  const files = await readClickhouseMigrations(opts.dir);
  const credentials = { url: opts.url, username: opts.username, password: opts.password };

  const admin = createClickhouse({ ...credentials, database: 'default' });
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  } finally {
    await admin.close();
  }

  const client = createClickhouse({ ...credentials, database });
  try {
    await client.command({
      query: `CREATE TABLE IF NOT EXISTS schema_migrations (version String, applied_at DateTime('UTC'))
        ENGINE = MergeTree ORDER BY version`,
    });
    const result = await client.query({
      query: 'SELECT version FROM schema_migrations',
      format: 'JSONEachRow',
    });
    const applied = new Set((await result.json<{ version: string }>()).map((row) => row.version));

    const done: string[] = [];
    for (const migration of files) {
      if (applied.has(migration.version)) continue;
      log(`clickhouse ${database}: applying ${migration.file}`);
      for (const statement of migration.statements) {
        try {
          await client.command({ query: statement });
        } catch (err) {
          throw new Error(`${migration.file}: ${(err as Error).message}\n--- statement ---\n${statement}`, {
            cause: err,
          });
        }
      }
      await client.command({
        query: `INSERT INTO schema_migrations (version, applied_at) VALUES (${sqlString(migration.version)}, now())`,
      });
      done.push(migration.file);
    }
    return done;
  } finally {
    await client.close();
  }
}
