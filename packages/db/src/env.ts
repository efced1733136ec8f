import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo root, found from this file so it works from any working directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Written by `infra/stack.sh up`: the addresses of the local services. */
export const STACK_ENV_FILE = join(REPO_ROOT, '.tollgate', 'stack.env');

/** Parses `KEY=value` lines (blank lines and `#` comments skipped, optional surrounding quotes removed). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line
      .slice(0, eq)
      .replace(/^export\s+/, '')
      .trim();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    }
    out[key] = value;
  }
  return out;
}

/**
 * The environment for CLIs and test helpers: the process environment, with variables it does
 * not set taken from .tollgate/stack.env (so commands work right after `stack.sh up`). Apps do
 * not use this: they read their own config.ts.
 */
export function stackEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const fromFile = existsSync(STACK_ENV_FILE) ? parseEnvFile(readFileSync(STACK_ENV_FILE, 'utf8')) : {};
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const [key, value] of Object.entries(env))
    if (value !== undefined && value !== '') merged[key] = value;
  return merged;
}

/** A variable from `stackEnv()`, or an error that says where it should come from. */
export function requireStackEnv(name: string, env: Record<string, string | undefined> = stackEnv()): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `${name} is not set and ${STACK_ENV_FILE} does not define it: run \`bash infra/stack.sh up\` first`,
    );
  }
  return value;
}
