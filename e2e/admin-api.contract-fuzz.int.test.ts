import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz, fuzzReport, installSchemathesis } from '../infra/testing/schemathesis.ts';
import { sharedStackEnv } from '../infra/testing/stack.ts';
import {
  type ChildService,
  freePorts,
  gatewayTestEnv,
  startApp,
  startPrivateRedis,
  waitUntil,
} from './support/app-process.ts';
import {
  callServerAction,
  ensurePortalBuild,
  listServerActions,
  type RunningPortal,
  type ServerActionRef,
  startPortal,
} from './support/portal.ts';
import { seedWorld, type World } from './support/world.ts';

/**
 * Issue 10 acceptance: a schema-based fuzz of the Admin REST API, driven by its own OpenAPI
 * document (/admin/v1/openapi.json) against the built portal on a fresh database, finds no 5xx,
 * no status the document does not declare, no response outside its documented schema and
 * content type, no undeclared method answered with anything but 405 + Allow, and no request the
 * document calls invalid accepted. Afterwards, with the configuration a second (create and edit
 * only) fuzz left in Postgres, the platform still works for a newcomer: an admin creates an API
 * and a free plan through the same REST API, a new developer signs up, takes the plan, creates a
 * key and calls the API through a gateway that followed everything the fuzzes did. Rollback,
 * which replaces the whole configuration, is fuzzed alone at the end.
 *
 * Real processes: the portal (its server, as `npm start` runs it), billing (stripe-mock) and the
 * gateway (private Redis, a private Kafka topic), all on one Postgres database.
 */

const stack = sharedStackEnv();
const SEED = 20261203;
/** Test cases per operation and phase: with the coverage and stateful phases, ~2,000 requests. */
const MAX_EXAMPLES = 40;
const MIN_REQUESTS = 1000;
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
  'response_headers_conformance',
  'unsupported_method',
  'allow_header_conformance',
  'negative_data_rejection',
  // Not positive_data_acceptance: plans have cross-field rules (core's PlanSchema: rate limit and
  // burst together, a soft cap needs a quota and a unit price) that JSON Schema cannot state and
  // the document gives in words, so a "valid" generated plan may rightly get a 400.
];
/**
 * Left out of the main fuzz: a rollback to an early version (1 is the configuration before the
 * world was seeded) replaces every API, route, upstream and plan, so the fuzz would mostly test
 * an emptied configuration. Its contract is fuzzed on its own, after the newcomer (last test).
 */
const ROLLBACK = {
  operationId: 'rollbackConfigVersion',
  path: '/admin/v1/config-versions/{version}/rollback',
};
/** The gateway follows Postgres through NOTIFY and a resync every this many ms. */
const CONFIG_RESYNC_MS = 2000;
/** From the admin's last change to the new developer's first 200 through the gateway. */
const APPLY_BOUND_MS = 30_000;

describe('admin REST API contract fuzz (schemathesis, real processes)', () => {
  let db: TestDatabase;
  let world: World;
  let portal: RunningPortal;
  let actions: ServerActionRef[];
  let echo: Server;
  let echoUrl: string;
  let redis: (ChildService & { url: string }) | undefined;
  const apps: ChildService[] = [];
  let tempDir: string;
  let gatewayUrl: string;
  let gatewayAdminUrl: string;

  const logs = () =>
    [
      `--- portal ---\n${portal?.logs().slice(-4000)}`,
      ...apps.map((a) => `--- ${a.name} ---\n${a.output().slice(-4000)}`),
    ].join('\n');

  beforeAll(async () => {
    tempDir = mkdtempSync(join(tmpdir(), 'tg-admin-fuzz-'));
    const [, , database, privateRedis] = await Promise.all([
      installSchemathesis(),
      ensurePortalBuild(),
      createTestDatabase(),
      startPrivateRedis(),
    ]);
    db = database;
    redis = privateRedis;
    world = await seedWorld(db.prisma);
    actions = await listServerActions();

    echo = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ echoed: req.url }));
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;

    const [gatewayPort, adminPort, billingPort] = (await freePorts(3)) as [number, number, number];
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    gatewayAdminUrl = `http://127.0.0.1:${adminPort}`;
    const billingUrl = `http://127.0.0.1:${billingPort}`;
    const billingToken = randomBytes(24).toString('hex');
    const started = await Promise.allSettled([
      startApp(
        'billing',
        {
          DATABASE_URL: db.url,
          CLICKHOUSE_URL: stack.CLICKHOUSE_URL!,
          CLICKHOUSE_DATABASE: stack.CLICKHOUSE_DATABASE!,
          STRIPE_API_BASE: stack.STRIPE_API_BASE!,
          STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('hex')}`,
          BILLING_SERVICE_TOKEN: billingToken,
          BILLING_HOST: '127.0.0.1',
          BILLING_PORT: String(billingPort),
          BILLING_PUBLIC_URL: billingUrl,
          BILLING_CATALOG_SYNC_ON_START: 'false',
        },
        `${billingUrl}/healthz`,
      ),
      startApp(
        'gateway',
        gatewayTestEnv(
          {
            databaseUrl: db.url,
            redisUrl: redis.url,
            kafkaBrokers: stack.KAFKA_BROKERS!,
            port: gatewayPort,
            adminPort,
            name: 'admin-fuzz',
            spoolDir: join(tempDir, 'gateway-spool'),
          },
          {
            GATEWAY_CONFIG_RESYNC_MS: String(CONFIG_RESYNC_MS),
            GATEWAY_SHUTDOWN_GRACE_MS: '3000',
          },
        ),
        `${gatewayAdminUrl}/readyz`,
      ),
    ]);
    for (const s of started) if (s.status === 'fulfilled') apps.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    portal = await startPortal({
      DATABASE_URL: db.url,
      BILLING_URL: billingUrl,
      BILLING_SERVICE_TOKEN: billingToken,
      METERING_URL: `http://127.0.0.1:${(await freePorts(1))[0]}`,
    });
  }, 600_000);

  afterAll(async () => {
    await portal?.stop();
    await Promise.all(apps.map((a) => a.stop()));
    await redis?.stop(2000);
    if (echo !== undefined) await new Promise((r) => echo.close(r));
    await db?.drop();
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  }, 60_000);

  /** One raw HTTP/1.1 exchange: fetch refuses TRACE, TRACK and CONNECT before sending them. */
  const rawRequest = (method: string, path: string) =>
    new Promise<{ status: number; allow: string | undefined; body: string }>((resolve, reject) => {
      const { port } = new URL(portal.url);
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
      );
      let text = '';
      socket.on('data', (d) => {
        text += d;
      });
      socket.on('error', reject);
      socket.on('close', () => {
        const [head = '', body = ''] = text.split('\r\n\r\n');
        resolve({
          status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
          allow: /\r\nallow: ([^\r]*)/i.exec(head)?.[1],
          body,
        });
      });
    });

  it('methods Next.js cannot route (TRACE, TRACK, CONNECT, PROPFIND) get a problem+json 405 with the path’s Allow', async () => {
    for (const method of ['TRACE', 'TRACK', 'CONNECT', 'PROPFIND']) {
      const api = await rawRequest(method, `/admin/v1/apis/${world.apiId}`);
      expect([method, api.status, api.allow]).toEqual([method, 405, 'GET, HEAD, PATCH, DELETE, OPTIONS']);
      expect(api.body).toContain('"code":"METHOD_NOT_ALLOWED"');
      const page = await rawRequest(method, '/signin');
      expect([method, page.status, page.allow]).toEqual([method, 405, 'GET, HEAD, POST']);
    }
  });

  it('no 5xx, no undeclared status or method answer, no response outside the document, no invalid request accepted', async () => {
    const started = Date.now();
    const result = await fuzz({
      schemaUrl: `${portal.url}/admin/v1/openapi.json`,
      headers: { authorization: `Bearer ${world.adminToken}` },
      checks: CHECKS,
      excludeOperations: [ROLLBACK.operationId],
      maxExamples: MAX_EXAMPLES,
      seed: SEED,
      timeoutMs: 420_000,
    });
    console.log(
      `admin API fuzz: ${result.requests} requests in ${Math.round((Date.now() - started) / 1000)} s; ` +
        `statuses ${JSON.stringify(result.statuses)}`,
    );
    expect(result.serverErrors, `${fuzzReport(result)}\n${logs()}`).toEqual([]);
    expect(result.exitCode, fuzzReport(result)).toBe(0);
    expect(result.requests).toBeGreaterThanOrEqual(MIN_REQUESTS);
    // Every documented operation was exercised, and the fuzz kept its credentials throughout.
    const doc = (await (await fetch(`${portal.url}/admin/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const [path, item] of Object.entries(doc.paths).filter(([p]) => p !== ROLLBACK.path))
      for (const method of Object.keys(item).filter((k) => k !== 'parameters'))
        expect(
          result.operations[`${method.toUpperCase()} ${path}`] ?? 0,
          `${method} ${path}`,
        ).toBeGreaterThan(0);
    expect(result.statuses['401'] ?? 0).toBeLessThan(result.requests / 10);
  }, 480_000);

  it('afterwards, with the configuration a second fuzz left in place, an admin publishes an API and a free plan, and a new developer signs up, subscribes, gets a key and calls it through the gateway', async () => {
    // The first fuzz also deletes what it creates, which could leave nothing for the gateway to
    // choke on. This pass only creates and edits configuration, so whatever the admin API accepted
    // is still in Postgres when the newcomer arrives (the issue: a fuzzed bad API froze the
    // gateway, and a developer who signed up afterwards got 403 until it was deleted by hand).
    const apisBefore = await db.prisma.api.count();
    const leftBehind = await fuzz({
      schemaUrl: `${portal.url}/admin/v1/openapi.json`,
      headers: { authorization: `Bearer ${world.adminToken}` },
      checks: ['not_a_server_error', 'status_code_conformance'],
      operations: ['createApi', 'updateApi', 'createRoute', 'updateRoute', 'addTarget'],
      phases: ['fuzzing', 'stateful'],
      maxExamples: 30,
      seed: SEED + 1,
      timeoutMs: 300_000,
    });
    expect(leftBehind.serverErrors, fuzzReport(leftBehind)).toEqual([]);
    expect(leftBehind.exitCode, fuzzReport(leftBehind)).toBe(0);
    const config = {
      apis: await db.prisma.api.count(),
      routes: await db.prisma.route.count(),
      targets: await db.prisma.upstreamTarget.count(),
    };
    console.log(
      `second fuzz (create and edit only): ${leftBehind.requests} requests, statuses ` +
        `${JSON.stringify(leftBehind.statuses)}; left in Postgres: ${JSON.stringify(config)}`,
    );
    expect(config.apis).toBeGreaterThan(apisBefore);

    const admin = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${portal.url}/admin/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${world.adminToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      expect(res.status, `${method} ${path}: ${text}`).toBeLessThan(300);
      return JSON.parse(text) as { id: string };
    };
    const slug = `after-fuzz-${randomBytes(3).toString('hex')}`;
    const api = await admin('POST', '/apis', { name: 'After the fuzz', slug, basePath: `/${slug}` });
    await admin('POST', `/apis/${api.id}/targets`, { url: echoUrl });
    await admin('POST', `/apis/${api.id}/routes`, { name: 'all', path: '/', cost: 1 });
    const plan = await admin('POST', '/plans', {
      slug,
      name: 'After the fuzz (free)',
      quota: 1000,
      quotaPeriod: 'month',
      priceCents: 0,
      capMode: 'hard',
      visibility: 'public',
      apiIds: [api.id],
    });
    const publishedAt = Date.now();

    const action = (name: string) => {
      const found = actions.find((a) => a.name === name);
      if (found === undefined) throw new Error(`no server action ${name}`);
      return found;
    };
    const email = `newcomer-${randomBytes(4).toString('hex')}@example.test`;
    const signUp = await fetch(`${portal.url}${action('signUpAction').path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'next-action': action('signUpAction').id,
        'content-type': 'text/plain;charset=UTF-8',
        accept: 'text/x-component',
        origin: portal.url,
      },
      body: JSON.stringify([{ name: 'Newcomer', email, password: 'a long enough password' }]),
    });
    const session = signUp.headers.getSetCookie().find((c) => c.includes('tollgate_session='));
    expect(session, `sign-up: ${signUp.status} ${await signUp.text()}`).toBeDefined();
    const cookie = session!.split(';')[0]!;

    const subscribe = await callServerAction(
      portal.url,
      action('subscribeAction'),
      { planId: plan.id },
      { cookie },
    );
    expect(subscribe.result?.ok, subscribe.body.slice(0, 2000)).toBe(true);
    const created = await callServerAction(
      portal.url,
      action('createApiKeyAction'),
      { name: 'first key' },
      { cookie },
    );
    const key = created.result?.reveal;
    expect(typeof key, created.body.slice(0, 2000)).toBe('string');

    let last = '';
    const took = await waitUntil(
      async () => {
        const res = await fetch(`${gatewayUrl}/${slug}/hello`, {
          headers: { authorization: `Bearer ${key}` },
          signal: AbortSignal.timeout(5000),
        }).catch((err: Error) => ({ status: 0, text: async () => err.message }));
        last = `${res.status} ${await res.text()}`;
        return res.status === 200;
      },
      APPLY_BOUND_MS,
      'the gateway to serve the new API to the new developer',
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last answer: ${last}\n${logs()}`);
    });
    const metrics = await (await fetch(`${gatewayAdminUrl}/metrics`)).text();
    const counter = (name: string) =>
      new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(metrics)?.[1] ?? 'absent';
    console.log(
      `after the fuzzes: the new developer's first 200 came ${Date.now() - publishedAt} ms after the API was ` +
        `published (${took} ms of polling); gateway snapshots applied ` +
        `${counter('tollgate_gateway_config_snapshots_applied_total')}, refused ` +
        `${counter('tollgate_gateway_config_snapshots_refused_total')}`,
    );
    expect(last).toContain(`/hello`);
  }, 420_000);

  it('rollback, fuzzed on its own afterwards: every version number gets a declared status, existing versions are restored', async () => {
    const versions = async () =>
      (await (
        await fetch(`${portal.url}/admin/v1/config-versions?limit=1`, {
          headers: { authorization: `Bearer ${world.adminToken}` },
        })
      ).json()) as { current: number };
    const { current } = await versions();
    const result = await fuzz({
      schemaUrl: `${portal.url}/admin/v1/openapi.json`,
      headers: { authorization: `Bearer ${world.adminToken}` },
      checks: CHECKS,
      operations: [ROLLBACK.operationId],
      // Versions that exist (the first, one from the fuzzes, the newest), besides generated ones.
      knownValues: { version: [1, Math.max(1, Math.floor(current / 2)), current] },
      // No stateful phase: no link leads to a rollback.
      phases: ['examples', 'coverage', 'fuzzing'],
      maxExamples: MAX_EXAMPLES,
      seed: SEED + 2,
      timeoutMs: 300_000,
    });
    console.log(`rollback fuzz: ${result.requests} requests; statuses ${JSON.stringify(result.statuses)}`);
    expect(result.serverErrors, `${fuzzReport(result)}\n${logs()}`).toEqual([]);
    expect(result.exitCode, fuzzReport(result)).toBe(0);
    expect(result.operations[`POST ${ROLLBACK.path}`] ?? 0).toBeGreaterThan(0);
    // Both outcomes were reached: versions restored (each a new version) and unknown ones refused.
    expect(result.statuses['200'] ?? 0).toBeGreaterThan(0);
    expect(result.statuses['404'] ?? 0).toBeGreaterThan(0);
    expect((await versions()).current).toBeGreaterThan(current);
    const audited = await db.prisma.auditLog.count({ where: { action: 'config.rollback' } });
    expect(audited).toBeGreaterThan(0);
  }, 360_000);
});
