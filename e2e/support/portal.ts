import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PORTAL_DIR = join(REPO_ROOT, 'apps', 'portal');
const NEXT_BIN = join(REPO_ROOT, 'node_modules', 'next', 'dist', 'bin', 'next');
const BUILD_LOCK = '/tmp/tollgate-portal-build.lock';

/**
 * Builds the portal when there is no build or a source file is newer than it. Serialised with
 * flock so parallel test files build once; the check runs again inside the lock.
 */
export async function ensurePortalBuild(): Promise<void> {
  const script =
    '[ -f .next/BUILD_ID ] && [ -z "$(find src next.config.ts package.json ../../packages/db/src/client.ts -newer .next/BUILD_ID -print -quit)" ] || ' +
    `node ${NEXT_BIN} build`;
  await execFileAsync('flock', [BUILD_LOCK, 'bash', '-c', script], {
    cwd: PORTAL_DIR,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A port nothing listens on: stands in for a service that is down. */
export async function deadServiceUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

export interface RunningPortal {
  url: string;
  logs: () => string;
  stop: () => Promise<void>;
}

/** Starts the built portal (its server, src/main.ts, as `npm start` does) on a free port and waits until it answers. */
export async function startPortal(env: Record<string, string>): Promise<RunningPortal> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: PORTAL_DIR,
    env: {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: '1',
      PORTAL_HOST: '127.0.0.1',
      PORTAL_PORT: String(port),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`portal exited early:\n${output}`);
    try {
      const res = await fetch(`${url}/signin`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`portal did not become ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    logs: () => output,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export interface ServerActionRef {
  id: string;
  name: string;
  file: string;
  /** A page path that hosts the action (used as the POST target). */
  path: string;
}

/** Every server action in the build, from Next's server-reference manifest. */
export async function listServerActions(): Promise<ServerActionRef[]> {
  const manifest = JSON.parse(
    await readFile(join(PORTAL_DIR, '.next/server/server-reference-manifest.json'), 'utf8'),
  ) as {
    node: Record<string, { workers: Record<string, unknown>; filename: string; exportedName: string }>;
  };
  return Object.entries(manifest.node).map(([id, entry]) => {
    const worker =
      Object.keys(entry.workers).find((w) => !w.includes('[') && !w.includes('_not-found')) ?? 'app/page';
    const path = worker.replace(/^app/, '').replace(/\/page$/, '') || '/';
    return { id, name: entry.exportedName, file: entry.filename, path };
  });
}

/** Every page and route handler path in the build, from Next's app-paths manifest. */
export async function listAppPaths(): Promise<{ pages: string[]; routes: string[] }> {
  const manifest = JSON.parse(
    await readFile(join(PORTAL_DIR, '.next/server/app-paths-manifest.json'), 'utf8'),
  ) as Record<string, string>;
  const pages: string[] = [];
  const routes: string[] = [];
  for (const key of Object.keys(manifest)) {
    if (key.startsWith('/_')) continue;
    if (key.endsWith('/page')) pages.push(key.replace(/\/page$/, '') || '/');
    else if (key.endsWith('/route')) routes.push(key.replace(/\/route$/, ''));
  }
  return { pages: pages.sort(), routes: routes.sort() };
}

export interface ActionCall {
  status: number;
  /** The action's return value, when the action ran. */
  result: { ok: boolean; [k: string]: unknown } | null;
  body: string;
}

/** Calls a server action over HTTP the way the browser does (React's reply encoding of one plain argument). */
export async function callServerAction(
  baseUrl: string,
  action: ServerActionRef,
  input: unknown,
  options: { cookie?: string; origin?: string } = {},
): Promise<ActionCall> {
  const res = await fetch(`${baseUrl}${action.path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'next-action': action.id,
      'content-type': 'text/plain;charset=UTF-8',
      accept: 'text/x-component',
      origin: options.origin ?? baseUrl,
      ...(options.cookie ? { cookie: options.cookie } : {}),
    },
    body: JSON.stringify([input]),
  });
  const body = await res.text();
  return { status: res.status, result: parseActionResult(body), body };
}

/** The action's return value from a server action response body (React's flight rows), or null. */
export function parseActionResult(body: string): ActionCall['result'] {
  const rows = new Map<string, string>();
  for (const line of body.split('\n')) {
    const m = /^([0-9a-f]+):(.*)$/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  try {
    const root = JSON.parse(rows.get('0') ?? 'null') as { a?: string } | null;
    const ref = root?.a?.startsWith('$@') ? root.a.slice(2) : undefined;
    const row = ref === undefined ? undefined : rows.get(ref);
    return row?.startsWith('{') ? JSON.parse(row) : null;
  } catch {
    return null;
  }
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumAvailable(): boolean {
  return existsSync('/usr/bin/chromium');
}

/** The process environment over .tollgate/stack.env (written by `infra/stack.sh up`). */
export function platformEnv(): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const file = join(REPO_ROOT, '.tollgate', 'stack.env');
  if (existsSync(file)) {
    for (const raw of readFileSync(file, 'utf8').split('\n')) {
      const line = raw.trim();
      const eq = line.indexOf('=');
      if (line === '' || line.startsWith('#') || eq <= 0) continue;
      out[line.slice(0, eq).replace(/^export\s+/, '')] = line.slice(eq + 1).replace(/^(['"])(.*)\1$/, '$2');
    }
  }
  for (const [k, v] of Object.entries(process.env)) if (v) out[k] = v;
  return out;
}
