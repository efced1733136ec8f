import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Test helpers around infra/stack.sh.
 *
 * - `sharedStackEnv()`: the endpoints of the shared stack (`npm run stack up`) that most
 *   integration tests use together; each test isolates itself with its own schema, topic or prefix.
 * - `startPrivateStack()`: a private instance of some services, on free ports and in a temporary
 *   state dir, for tests that break a service (stop Kafka, stall Redis) without disturbing others.
 */

export type ServiceName = 'postgres' | 'redis' | 'clickhouse' | 'kafka' | 'stripe-mock';

export const SERVICE_NAMES: readonly ServiceName[] = [
  'postgres',
  'redis',
  'clickhouse',
  'kafka',
  'stripe-mock',
];

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const STACK_SCRIPT = join(REPO_ROOT, 'infra', 'stack.sh');

/** The state dir of the shared stack, as stack.sh computes it. */
function sharedStateDir(): string {
  return process.env.TOLLGATE_STATE_DIR ?? join(REPO_ROOT, '.tollgate');
}

/** Parses `KEY=value` lines (the format of `stack.sh env` and `<state>/stack.env`). */
export function parseEnvLines(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

/** The shared stack's variables (DATABASE_URL, REDIS_URL, ...) from `<repo>/.tollgate/stack.env`. */
export function sharedStackEnv(): Record<string, string> {
  const file = join(sharedStateDir(), 'stack.env');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: the shared stack is not up. Run \`npm run stack up\` first.`);
  }
  return parseEnvLines(readFileSync(file, 'utf8'));
}

export interface StackResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `bash infra/stack.sh ...args` with extra env vars. Never throws on a non-zero exit. */
export function runStack(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 240_000,
): Promise<StackResult> {
  return new Promise((done) => {
    execFile(
      'bash',
      [STACK_SCRIPT, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** `count` distinct free TCP ports on 127.0.0.1 (held open together so none repeats). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((ok, fail) => {
          server.once('error', fail);
          server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            ok(typeof address === 'object' && address !== null ? address.port : 0);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  }
}

/** The TOLLGATE_* variables stack.sh reads for a private instance: own state dir, own ports. */
export async function privateStackVars(stateDir: string): Promise<Record<string, string>> {
  const names = [
    'TOLLGATE_PG_PORT',
    'TOLLGATE_REDIS_PORT',
    'TOLLGATE_CLICKHOUSE_HTTP_PORT',
    'TOLLGATE_CLICKHOUSE_TCP_PORT',
    'TOLLGATE_KAFKA_PORT',
    'TOLLGATE_KAFKA_CONTROLLER_PORT',
    'TOLLGATE_STRIPE_MOCK_PORT',
    'TOLLGATE_STRIPE_MOCK_HTTPS_PORT',
  ];
  const ports = await freePorts(names.length);
  const vars: Record<string, string> = {
    TOLLGATE_STATE_DIR: stateDir,
    // Reuse the shared stack's downloads (Kafka jars, stripe-mock): nothing is fetched twice.
    TOLLGATE_CACHE_DIR: process.env.TOLLGATE_CACHE_DIR ?? join(sharedStateDir(), 'cache'),
  };
  names.forEach((name, i) => {
    vars[name] = String(ports[i]);
  });
  return vars;
}

export interface PrivateStack {
  /** What apps read: DATABASE_URL, REDIS_URL, CLICKHOUSE_URL, CLICKHOUSE_DATABASE, KAFKA_BROKERS, STRIPE_API_BASE. */
  env: Record<string, string>;
  /** What stack.sh reads: TOLLGATE_STATE_DIR, TOLLGATE_*_PORT... */
  stackVars: Record<string, string>;
  stateDir: string;
  /** Runs any stack.sh command against this instance. */
  run(args: string[]): Promise<StackResult>;
  /** Graceful stop; data is kept. */
  stop(service: ServiceName): Promise<void>;
  /** Start again and wait until it answers its probe. */
  start(service: ServiceName): Promise<void>;
  /** SIGSTOP: the service accepts connections but never answers. */
  pause(service: ServiceName): Promise<void>;
  resume(service: ServiceName): Promise<void>;
  /** Stops everything and deletes the state dir. */
  destroy(): Promise<void>;
}

function check(result: StackResult, what: string): StackResult {
  if (result.code !== 0) {
    throw new Error(`stack.sh ${what} failed (exit ${result.code}):\n${result.stderr}\n${result.stdout}`);
  }
  return result;
}

/** Starts a private instance of `services` and waits until each answers a real probe. */
export async function startPrivateStack(opts: { services: ServiceName[] }): Promise<PrivateStack> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tollgate-stack-'));
  const stackVars = await privateStackVars(stateDir);
  const run = (args: string[]) => runStack(args, stackVars);
  const must = async (args: string[]) => {
    check(await run(args), args.join(' '));
  };
  try {
    await must(['up', ...opts.services]);
  } catch (error) {
    await run(['down']);
    await rm(stateDir, { recursive: true, force: true });
    throw error;
  }
  const env = parseEnvLines(check(await run(['env']), 'env').stdout);
  return {
    env,
    stackVars,
    stateDir,
    run,
    stop: (service) => must(['stop', service]),
    start: (service) => must(['start', service]),
    pause: (service) => must(['pause', service]),
    resume: (service) => must(['resume', service]),
    destroy: async () => {
      await must(['down']);
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
