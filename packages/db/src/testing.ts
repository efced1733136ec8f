import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { requireStackEnv } from './env.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import { migratePostgres, POSTGRES_MIGRATIONS_DIR } from './migrate.ts';
import { createPrisma } from './prisma.ts';

/**
 * Test helper: a fresh, fully migrated Postgres database per test file.
 *
 *   const db = await createTestDatabase();
 *   afterAll(() => db.drop());
 *   await db.prisma.consumer.create({ ... });
 *
 * The first call migrates a template database (`tollgate_template`) and later calls copy it
 * with `CREATE DATABASE ... TEMPLATE`, which takes tens of milliseconds. The template is
 * rebuilt whenever the files in migrations/postgres change (their hash is the template's
 * comment), and a Postgres advisory lock makes concurrent test processes wait for one build.
 * Reads DATABASE_URL from the environment, else from .tollgate/stack.env.
 */
export interface TestDatabase {
  /** Connection URL of the new database, for code under test that builds its own client. */
  url: string;
  /** A client connected to it (disconnected by `drop`). */
  prisma: PrismaClient;
  /** Disconnects `prisma` and drops the database, ending any other connections to it. */
  drop(): Promise<void>;
}

export const TEMPLATE_DATABASE = 'tollgate_template';
const TEST_DATABASE_PREFIX = 'tollgate_test_';
// Arbitrary constant shared by every process that builds or copies the template.
const TEMPLATE_LOCK_KEY = 7_420_116_001;

export async function migrationsHash(dir: string = POSTGRES_MIGRATIONS_DIR): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort()) {
    hash
      .update(name)
      .update('\0')
      .update(await readFile(join(dir, name)))
      .update('\0');
  }
  return `migrations:${hash.digest('hex')}`;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function ensureTemplate(admin: pg.Client, baseUrl: string): Promise<void> {
  const want = await migrationsHash();
  const { rows } = await admin.query<{ comment: string | null }>(
    `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
    [TEMPLATE_DATABASE],
  );
  if (rows[0]?.comment === want) return;
  if (rows.length > 0) await admin.query(`DROP DATABASE ${TEMPLATE_DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await migratePostgres(withDatabase(baseUrl, TEMPLATE_DATABASE));
  // Written last: a build that died halfway has no comment and is rebuilt by the next caller.
  await admin.query(`COMMENT ON DATABASE ${TEMPLATE_DATABASE} IS '${want}'`);
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const baseUrl = requireStackEnv('DATABASE_URL');
  const name = `${TEST_DATABASE_PREFIX}${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDatabase(baseUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    try {
      await ensureTemplate(admin, baseUrl);
      // Under the same lock: copying fails if anyone else is connected to the template.
      await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
    }
  } finally {
    await admin.end();
  }

  const url = withDatabase(baseUrl, name);
  const prisma = createPrisma(url);
  return {
    url,
    prisma,
    async drop() {
      await prisma.$disconnect();
      const client = new pg.Client({ connectionString: withDatabase(baseUrl, 'postgres') });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
