import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './env.ts';

const execFileAsync = promisify(execFile);

export const POSTGRES_MIGRATIONS_DIR = join(REPO_ROOT, 'migrations', 'postgres');
const DBMATE_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'dbmate');

/** dbmate's driver asks for TLS unless told otherwise; the local Postgres has none. */
function dbmateUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (!url.searchParams.has('sslmode')) url.searchParams.set('sslmode', 'disable');
  return url.toString();
}

export interface MigratePostgresOptions {
  migrationsDir?: string;
}

/**
 * Creates the database if missing and applies pending migrations with `dbmate up`.
 * Returns the file names applied by this call (empty when already up to date).
 */
export async function migratePostgres(
  databaseUrl: string,
  options: MigratePostgresOptions = {},
): Promise<string[]> {
  const args = [
    '--url',
    dbmateUrl(databaseUrl),
    '--migrations-dir',
    options.migrationsDir ?? POSTGRES_MIGRATIONS_DIR,
    '--no-dump-schema',
    'up',
  ];
  try {
    const { stdout } = await execFileAsync(DBMATE_BIN, args, { cwd: REPO_ROOT });
    return [...stdout.matchAll(/^Applying: (.+)$/gm)].map((m) => m[1]!.trim());
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`dbmate up failed for ${redact(databaseUrl)}: ${stderr || String(err)}`, { cause: err });
  }
}

/** The URL without its password, for messages. */
export function redact(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable database URL)';
  }
}
