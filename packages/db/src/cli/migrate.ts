import { join } from 'node:path';
// Relative until packages/clickhouse exports its runner (its package.json exports only ".").
import { applyClickhouseMigrations } from '@tollgate/clickhouse';
import { clickhouseEnv, loadConfig, postgresEnv } from '@tollgate/config';
import { REPO_ROOT, stackEnv } from '../env.ts';
import { migratePostgres, redact } from '../migrate.ts';

// `npm run migrate`: Postgres (dbmate) then ClickHouse (our runner), from the environment or,
// for variables it does not set, .tollgate/stack.env written by `bash infra/stack.sh up`.
const config = loadConfig(postgresEnv.extend(clickhouseEnv.shape), stackEnv());

const pgApplied = await migratePostgres(config.DATABASE_URL);
console.log(
  `postgres ${redact(config.DATABASE_URL)}: ${pgApplied.length === 0 ? 'up to date' : `applied ${pgApplied.join(', ')}`}`,
);

const chApplied = await applyClickhouseMigrations({
  url: config.CLICKHOUSE_URL,
  database: config.CLICKHOUSE_DATABASE,
  username: config.CLICKHOUSE_USER,
  password: config.CLICKHOUSE_PASSWORD,
  dir: join(REPO_ROOT, 'migrations', 'clickhouse'),
});
console.log(
  `clickhouse ${config.CLICKHOUSE_URL} database ${config.CLICKHOUSE_DATABASE}: ${chApplied.length === 0 ? 'up to date' : `applied ${chApplied.join(', ')}`}`,
);
