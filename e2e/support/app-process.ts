import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../infra/testing/stack.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

/** A child process of the test: an app (`tsx apps/<app>/src/main.ts`) or a private service. */
export interface ChildService {
  name: string;
  child: ChildProcess;
  /** The last ~100 kB of stdout and stderr, for failure messages. */
  output(): string;
  /** SIGTERM (graceful), then SIGKILL to its whole process group after `graceMs`. Never throws. */
  stop(graceMs?: number): Promise<void>;
}

/** Polls `check` until it returns true; throws after `timeoutMs`. Returns how long it took. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function spawnService(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): ChildService {
  // Own process group: tsx runs the app in a grandchild, and a SIGKILL must reach it too.
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
  });
  return {
    name,
    child,
    output: () => out,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      // tsx relays SIGTERM to the app, which shuts down gracefully.
      child.kill('SIGTERM');
      const graceful = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), graceMs)),
      ]);
      try {
        // Also reaps a grandchild left behind by a parent that exited first.
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
      if (!graceful) await exited;
    },
  };
}

/**
 * Starts `node_modules/.bin/tsx apps/<app>/src/main.ts` with `env` on top of this process's env
 * and resolves once `readyUrl` answers 200 (throws with the app's output if it exits or times out).
 */
export async function startApp(
  app: string,
  env: Record<string, string>,
  readyUrl: string,
  timeoutMs = 90_000,
): Promise<ChildService> {
  const svc = spawnService(app, TSX, [join('apps', app, 'src', 'main.ts')], {
    ...process.env,
    LOG_LEVEL: 'warn',
    ...env,
  });
  try {
    await waitUntil(
      async () => {
        if (svc.child.exitCode !== null || svc.child.signalCode !== null)
          throw new Error(`${app} exited (${svc.child.exitCode ?? svc.child.signalCode}):\n${svc.output()}`);
        try {
          const res = await fetch(readyUrl, { signal: AbortSignal.timeout(2000) });
          await res.arrayBuffer();
          return res.status === 200;
        } catch {
          return false;
        }
      },
      timeoutMs,
      `${app} at ${readyUrl}`,
      200,
    );
  } catch (err) {
    await svc.stop(2000);
    throw new Error(`${(err as Error).message}\n--- ${app} output ---\n${svc.output().slice(-4000)}`);
  }
  return svc;
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(500, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });
}

/** A private `redis-server` (no persistence) on a free port: this test never depends on the shared one. */
export async function startPrivateRedis(): Promise<ChildService & { url: string }> {
  const [port] = await freePorts(1);
  const svc = spawnService(
    'redis',
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    process.env,
  );
  try {
    await waitUntil(() => redisPing(port!), 15_000, 'private redis');
  } catch (err) {
    await svc.stop(1000);
    throw err;
  }
  return { ...svc, url: `redis://127.0.0.1:${port}` };
}

export { freePorts };

export interface GatewayTestEnv {
  databaseUrl: string;
  redisUrl: string;
  kafkaBrokers: string;
  port: number;
  adminPort: number;
  /** Names the test's Redis keys and usage topic apart from every other test's. */
  name: string;
  spoolDir: string;
}

/**
 * The environment of a gateway process a whole-platform test starts: loopback listeners, its own
 * Redis key prefix and usage topic, the echo upstream on loopback allowed. `extra` adds or
 * overrides (resync interval, shutdown grace...).
 */
export function gatewayTestEnv(
  t: GatewayTestEnv,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: t.databaseUrl,
    REDIS_URL: t.redisUrl,
    KAFKA_BROKERS: t.kafkaBrokers,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(t.port),
    GATEWAY_ADMIN_HOST: '127.0.0.1',
    GATEWAY_ADMIN_PORT: String(t.adminPort),
    GATEWAY_REDIS_KEY_PREFIX: `test:${t.name}:${randomUUID()}:`,
    GATEWAY_USAGE_TOPIC: `tollgate.usage.v2.test-${randomUUID()}`,
    GATEWAY_SPOOL_DIR: t.spoolDir,
    // The tests' echo upstreams listen on loopback.
    GATEWAY_UPSTREAM_ALLOW: '127.0.0.1',
    ...extra,
  };
}
