import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClickhouse } from './client.ts';
import { applyClickhouseMigrations } from './migrations.ts';

/**
 * Test helper: a fresh ClickHouse database per test file, with every migration applied.
 *
 *   const ch = await createTestClickhouseDatabase();
 *   afterAll(() => ch.drop());
 *   const client = createClickhouse({ url: ch.url, database: ch.database });
 *
 * Reads CLICKHOUSE_URL (and optional CLICKHOUSE_USER / CLICKHOUSE_PASSWORD) from the
 * environment, else from .tollgate/stack.env written by `bash infra/stack.sh up`.
 */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLICKHOUSE_MIGRATIONS_DIR = join(REPO_ROOT, 'migrations', 'clickhouse');

export interface TestClickhouseDatabase {
  /** Unique name, `tollgate_test_<random>`. */
  database: string;
  url: string;
  username: string;
  password: string;
  drop(): Promise<void>;
}

function env(name: string): string | undefined {
  const fromProcess = process.env[name];
  if (fromProcess !== undefined && fromProcess !== '') return fromProcess;
  const file = join(REPO_ROOT, '.tollgate', 'stack.env');
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).trim();
}

export async function createTestClickhouseDatabase(): Promise<TestClickhouseDatabase> {
  const url = env('CLICKHOUSE_URL');
  if (url === undefined)
    throw new Error(
      'CLICKHOUSE_URL is not set and .tollgate/stack.env is missing: run `bash infra/stack.sh up`',
    );
  const username = env('CLICKHOUSE_USER') ?? 'default';
  const password = env('CLICKHOUSE_PASSWORD') ?? '';
  const database = `tollgate_test_${randomBytes(6).toString('hex')}`;
  await applyClickhouseMigrations({ url, database, dir: CLICKHOUSE_MIGRATIONS_DIR, username, password });
  return {
    database,
    url,
    username,
    password,
    async drop() {
      const admin = createClickhouse({ url, database: 'default', username, password });
      try {
        await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
      } finally {
        await admin.close();
      }
    },
  };
}
