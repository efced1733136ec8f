import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PrivateStack,
  privateStackVars,
  runStack,
  SERVICE_NAMES,
  type ServiceName,
  startPrivateStack,
} from './testing/stack.ts';

// Every test here runs against a PRIVATE stack (own state dir, own ports): the shared one at
// <repo>/.tollgate is in use by other test files at the same time and must never be touched.

const run = promisify(execFile);

async function sql(env: Record<string, string>, query: string): Promise<string> {
  const { stdout } = await run('psql', [env.DATABASE_URL!, '-v', 'ON_ERROR_STOP=1', '-tAc', query]);
  return stdout.trim();
}

async function redis(env: Record<string, string>, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-u', env.REDIS_URL!, ...args]);
  return stdout.trim();
}

async function clickhouse(env: Record<string, string>, query: string): Promise<string> {
  const res = await fetch(`${env.CLICKHOUSE_URL}/?database=${env.CLICKHOUSE_DATABASE}`, {
    method: 'POST',
    body: query,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`clickhouse ${res.status}: ${text}`);
  return text.trim();
}

async function kafkaTopics(stack: PrivateStack, ...args: string[]): Promise<string> {
  const result = await stack.run(['kafka-topics', ...args]);
  if (result.code !== 0) throw new Error(`kafka-topics ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function stripeCustomers(env: Record<string, string>): Promise<number> {
  const res = await fetch(`${env.STRIPE_API_BASE}/v1/customers`, {
    headers: { Authorization: 'Bearer sk_test_123' },
  });
  return res.status;
}

async function expectEveryServiceAnswers(stack: PrivateStack): Promise<void> {
  const { env } = stack;
  expect(await sql(env, 'SELECT 1')).toBe('1');
  expect(await redis(env, 'PING')).toBe('PONG');
  expect(await clickhouse(env, 'SELECT 1')).toBe('1');
  await kafkaTopics(stack, '--list'); // a metadata request
  expect(await stripeCustomers(env)).toBe(200);
}

function statusOf(stdout: string): Record<string, string> {
  const states: Record<string, string> = {};
  for (const line of stdout.trim().split('\n')) {
    const [service, state] = line.split(/\s+/);
    if (service && state) states[service] = state;
  }
  return states;
}

const TOPIC = 'tollgate.stacktest.v1';

describe('infra/stack.sh', () => {
  let stack: PrivateStack;

  beforeAll(async () => {
    stack = await startPrivateStack({ services: [...SERVICE_NAMES] });
  }, 240_000);

  afterAll(async () => {
    await stack?.destroy();
  }, 120_000);

  it('never binds the shared default ports or state dir', () => {
    expect(stack.stateDir).not.toContain('.tollgate');
    expect(stack.env.DATABASE_URL).not.toContain(':55432/');
    expect(stack.env.KAFKA_BROKERS).not.toBe('127.0.0.1:59092');
  });

  it('up on a running stack succeeds, leaves it alone and every service answers a real probe', async () => {
    const pidsBefore = (await stack.run(['status'])).stdout;
    const again = await stack.run(['up']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('starting');
    expect((await stack.run(['status'])).stdout).toBe(pidsBefore);
    await expectEveryServiceAnswers(stack);
  }, 120_000);

  it('env prints exactly the contract variables, on this instance ports', async () => {
    const { stdout } = await stack.run(['env']);
    const v = stack.stackVars;
    expect(stdout.trim().split('\n')).toEqual([
      `DATABASE_URL=postgres://tollgate:tollgate@127.0.0.1:${v.TOLLGATE_PG_PORT}/tollgate`,
      `REDIS_URL=redis://127.0.0.1:${v.TOLLGATE_REDIS_PORT}`,
      `CLICKHOUSE_URL=http://127.0.0.1:${v.TOLLGATE_CLICKHOUSE_HTTP_PORT}`,
      'CLICKHOUSE_DATABASE=tollgate',
      `KAFKA_BROKERS=127.0.0.1:${v.TOLLGATE_KAFKA_PORT}`,
      `STRIPE_API_BASE=http://127.0.0.1:${v.TOLLGATE_STRIPE_MOCK_PORT}`,
    ]);
  });

  it('status reflects reality: stopped, paused and running services', async () => {
    await stack.stop('stripe-mock');
    await stack.pause('redis');
    try {
      const states = statusOf((await stack.run(['status'])).stdout);
      expect(states).toEqual({
        postgres: 'running',
        redis: 'paused',
        clickhouse: 'running',
        kafka: 'running',
        'stripe-mock': 'stopped',
      });
      await expect(fetch(`${stack.env.STRIPE_API_BASE}/v1/customers`)).rejects.toThrow();
    } finally {
      await stack.resume('redis');
      await stack.start('stripe-mock');
    }
    const states = statusOf((await stack.run(['status'])).stdout);
    for (const service of SERVICE_NAMES) expect(states[service]).toBe('running');
    expect(await redis(stack.env, 'PING')).toBe('PONG');
    expect(await stripeCustomers(stack.env)).toBe(200);
  }, 120_000);

  it('data written to every store survives down then up', async () => {
    const { env } = stack;
    await sql(env, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('survives')");
    await redis(env, 'SET', 'stacktest:kept', 'survives');
    await clickhouse(env, 'CREATE TABLE kept (note String) ENGINE = MergeTree ORDER BY note');
    await clickhouse(env, "INSERT INTO kept VALUES ('survives')");
    await kafkaTopics(stack, '--create', '--topic', TOPIC, '--partitions', '1', '--replication-factor', '1');

    const down = await stack.run(['down']);
    expect(down.code, down.stderr).toBe(0);
    const states = statusOf((await stack.run(['status'])).stdout);
    for (const service of SERVICE_NAMES) expect(states[service]).toBe('stopped');

    const up = await stack.run(['up']);
    expect(up.code, up.stderr).toBe(0);
    expect(await sql(env, 'SELECT note FROM kept')).toBe('survives');
    expect(await redis(env, 'GET', 'stacktest:kept')).toBe('survives');
    expect(await clickhouse(env, 'SELECT note FROM kept')).toBe('survives');
    expect(await kafkaTopics(stack, '--list')).toContain(TOPIC);
  }, 180_000);

  it('reset wipes every store but keeps the installed jars and binaries', async () => {
    const reset = await stack.run(['reset']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(existsSync(join(stack.stateDir, 'data'))).toBe(false);
    const cache = stack.stackVars.TOLLGATE_CACHE_DIR!;
    expect(readdirSync(join(cache, 'kafka-libs')).some((jar) => jar.startsWith('kafka_2.13-'))).toBe(true);
    expect(existsSync(join(cache, 'bin', 'stripe-mock'))).toBe(true);

    const up = await stack.run(['up']);
    expect(up.code, up.stderr).toBe(0);
    const { env } = stack;
    expect(await sql(env, "SELECT count(*) FROM pg_tables WHERE tablename = 'kept'")).toBe('0');
    expect(await redis(env, 'EXISTS', 'stacktest:kept')).toBe('0');
    expect(await clickhouse(env, 'EXISTS TABLE kept')).toBe('0');
    expect(await kafkaTopics(stack, '--list')).not.toContain(TOPIC);
    await expectEveryServiceAnswers(stack);
  }, 180_000);
});

describe('infra/stack.sh port conflicts', () => {
  it.each<ServiceName>(['postgres', 'kafka'])(
    'up fails fast, before starting anything, when the %s port is taken by another process',
    async (service) => {
      const stateDir = await mkdtemp(join(tmpdir(), 'tollgate-stack-'));
      const vars = await privateStackVars(stateDir);
      const squatter = createServer();
      await new Promise<void>((ok) => squatter.listen(0, '127.0.0.1', ok));
      const address = squatter.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const portVar = service === 'postgres' ? 'TOLLGATE_PG_PORT' : 'TOLLGATE_KAFKA_PORT';
      try {
        const started = Date.now();
        const result = await runStack(['up'], { ...vars, [portVar]: String(port) }, 30_000);
        const elapsed = Date.now() - started;

        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain(`port ${port} for ${service} is already in use`);
        expect(result.stderr).toContain(portVar);
        expect(elapsed).toBeLessThan(10_000);
        const states = statusOf((await runStack(['status'], vars)).stdout);
        for (const name of SERVICE_NAMES) expect(states[name]).toBe('stopped');
      } finally {
        squatter.close();
        await runStack(['down'], vars);
        await rm(stateDir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
