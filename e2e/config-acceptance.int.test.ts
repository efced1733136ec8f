import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinConfigPaths } from '@tollgate/core';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../infra/testing/stack.ts';
import { type ChildService, freePorts, startApp, waitUntil } from './support/app-process.ts';
import { deadServiceUrl, ensurePortalBuild, type RunningPortal, startPortal } from './support/portal.ts';

/**
 * Issue 10 acceptance: what the admin API accepts, the gateway applies. Generated sequences of
 * /admin/v1 calls (creating APIs, routes, upstreams and plans, editing them; good and bad values
 * mixed, the bad ones the admin API used to let through) go to the built portal; afterwards a
 * real gateway process must report the resulting configuration version on /readyz with nothing
 * quarantined, and route a request for every stored route's own path to that route.
 */

const RUNS = 40;

let db: TestDatabase;
let portal: RunningPortal;
let gateway: ChildService;
let gatewayUrl: string;
let adminUrl: string;
let tempDir: string;
const TOKEN = randomBytes(24).toString('base64url');

beforeAll(async () => {
  await ensurePortalBuild();
  db = await createTestDatabase();
  await db.prisma.adminToken.create({
    data: { name: 'acceptance', tokenHash: createHash('sha256').update(TOKEN).digest('hex'), prefix: 'acc' },
  });
  const stack = sharedStackEnv();
  tempDir = mkdtempSync(join(tmpdir(), 'tollgate-config-acceptance-'));
  const [gatewayPort, adminPort] = (await freePorts(2)) as [number, number];
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  adminUrl = `http://127.0.0.1:${adminPort}`;
  [portal, gateway] = await Promise.all([
    startPortal({
      DATABASE_URL: db.url,
      METERING_URL: await deadServiceUrl(),
      BILLING_URL: await deadServiceUrl(),
    }),
    startApp(
      'gateway',
      {
        DATABASE_URL: db.url,
        REDIS_URL: stack.REDIS_URL!,
        KAFKA_BROKERS: stack.KAFKA_BROKERS!,
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(gatewayPort),
        GATEWAY_ADMIN_HOST: '127.0.0.1',
        GATEWAY_ADMIN_PORT: String(adminPort),
        GATEWAY_REDIS_KEY_PREFIX: `test:config-acceptance:${randomUUID()}:`,
        GATEWAY_USAGE_TOPIC: `tollgate.usage.v2.test-${randomUUID()}`,
        GATEWAY_SPOOL_DIR: join(tempDir, 'gateway-spool'),
        GATEWAY_SHUTDOWN_GRACE_MS: '2000',
      },
      `${adminUrl}/readyz`,
    ),
  ]);
}, 900_000);

afterAll(async () => {
  await gateway?.stop(5000);
  await portal?.stop();
  await db?.drop();
  if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
}, 60_000);

// ---- generated admin calls -------------------------------------------------------------------

const segment = fc.constantFrom(
  'v1',
  'v2',
  'users',
  'orders',
  'heavy',
  'a-b',
  'x_y',
  'it.s',
  'til~de',
  'A',
  'b',
  'c9',
);
const goodPath = fc.array(segment, { maxLength: 3 }).map((s) => `/${s.join('/')}`);
/** Route paths: below the base path, mostly not the root (so routes of one API rarely share a path). */
const goodRoutePath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/${s.join('/')}`);
const badPath = fc.constantFrom(
  "/it's",
  '/v1:batch',
  '/users/{id}',
  '/users/:id',
  '/files/*',
  '/%68eavy',
  '/heavy;x',
  '/a//b',
  '/a/../b',
  '/héllo',
  'x',
);
const path = fc.oneof({ arbitrary: goodPath, weight: 4 }, { arbitrary: badPath, weight: 1 });
const routePath = fc.oneof(
  { arbitrary: goodRoutePath, weight: 5 },
  { arbitrary: goodPath, weight: 1 },
  { arbitrary: badPath, weight: 1 },
);
const hosts = fc.oneof(
  { arbitrary: fc.constant([] as string[]), weight: 4 },
  { arbitrary: fc.constantFrom(['api.example.com'], ['a.example.com', 'API.example.com']), weight: 2 },
  { arbitrary: fc.constantFrom(['2:3'], ['api.example.com:8080'], ['http://x']), weight: 1 },
);
const url = fc.oneof(
  {
    arbitrary: fc.constantFrom('http://127.0.0.1:9', 'http://2:3', 'http://EXAMPLE.invalid:80/base'),
    weight: 4,
  },
  {
    arbitrary: fc.constantFrom(
      'http://127.0.0.1:9/?debug=1',
      'http://u:p@127.0.0.1:9',
      'ftp://x',
      'not a url',
      'http://x/#f',
    ),
    weight: 1,
  },
);
const methods = fc.oneof(
  {
    arbitrary: fc.uniqueArray(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), { maxLength: 2 }),
    weight: 12,
  },
  { arbitrary: fc.constantFrom(['TRACE'], ['get']), weight: 1 },
);
const int = (min: number, max: number, bad: number[]) =>
  fc.oneof(
    { arbitrary: fc.integer({ min, max }), weight: 12 },
    { arbitrary: fc.constantFrom(...bad), weight: 1 },
  );

type Command =
  | { op: 'createApi'; body: Record<string, unknown> }
  | { op: 'addRoute'; api: number; body: Record<string, unknown> }
  | { op: 'addTarget'; api: number; body: Record<string, unknown> }
  | { op: 'patchApi'; api: number; body: Record<string, unknown> }
  | { op: 'patchRoute'; route: number; body: Record<string, unknown> }
  | { op: 'deleteRoute'; route: number }
  | { op: 'savePlan'; apis: number[]; body: Record<string, unknown> };

const routeBody = fc.record(
  {
    name: fc.constantFrom('all', 'heavy', 'health'),
    path: routePath,
    methods,
    cost: int(0, 10, [-1, 2_000_000]),
    timeoutMs: int(100, 300_000, [0, 400_000]),
    public: fc.boolean(),
    pathMatch: fc.oneof(
      { arbitrary: fc.constantFrom('prefix', 'exact'), weight: 12 },
      { arbitrary: fc.constant('glob'), weight: 1 },
    ),
  },
  { requiredKeys: ['name', 'path', 'cost'] },
);

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc
      .record({
        slug: fc.constantFrom('echo', 'maps', 'pay', 'Bad Slug'),
        basePath: path,
        hosts,
        stripBasePath: fc.boolean(),
      })
      .map((body) => ({ op: 'createApi' as const, body: { name: String(body.slug), ...body } })),
  },
  {
    weight: 4,
    arbitrary: fc.record({ api: fc.nat(), body: routeBody }).map((c) => ({ op: 'addRoute' as const, ...c })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        api: fc.nat(),
        body: fc.record(
          {
            url,
            weight: int(1, 100, [0, 1000]),
            healthCheckPath: fc.oneof(goodPath, fc.constant('/héalth')),
          },
          { requiredKeys: ['url'] },
        ),
      })
      .map((c) => ({ op: 'addTarget' as const, ...c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ api: fc.nat(), body: fc.oneof(fc.record({ basePath: path }), fc.record({ hosts })) })
      .map((c) => ({ op: 'patchApi' as const, ...c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        route: fc.nat(),
        body: fc.oneof(fc.record({ path }), fc.record({ public: fc.boolean() }), fc.record({ methods })),
      })
      .map((c) => ({ op: 'patchRoute' as const, ...c })),
  },
  { weight: 1, arbitrary: fc.nat().map((route) => ({ op: 'deleteRoute' as const, route })) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        apis: fc.array(fc.nat(), { maxLength: 2 }),
        body: fc.record({
          slug: fc.constantFrom('free', 'pro', 'Bad Slug'),
          quota: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }),
          capMode: fc.constantFrom('hard', 'soft'),
          currency: fc.constantFrom('usd', 'dollars'),
        }),
      })
      .map((c) => ({ op: 'savePlan' as const, ...c })),
  },
);

/** Each run starts with one or two good APIs, so the generated calls have something to act on. */
const firstApis: fc.Arbitrary<Command[]> = fc
  .uniqueArray(fc.constantFrom('echo', 'maps', 'pay'), { minLength: 1, maxLength: 2 })
  .chain((slugs) =>
    fc.tuple(
      ...slugs.map((slug) =>
        fc
          .record({ basePath: goodPath, hosts: fc.constantFrom([], ['api.example.com']) })
          .map((f): Command => ({ op: 'createApi', body: { name: slug, slug, stripBasePath: true, ...f } })),
      ),
    ),
  );

async function admin(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${portal.url}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text) };
}

async function run(commands: Command[], log: string[]): Promise<void> {
  const apis: string[] = [];
  const routes: string[] = [];
  const pick = (list: string[], i: number) => list[i % list.length];
  for (const c of commands) {
    let res: { status: number; json: unknown } | null = null;
    if (c.op === 'createApi') {
      res = await admin('POST', '/apis', c.body);
      if (res.status === 201) apis.push((res.json as { id: string }).id);
    } else if (c.op === 'addRoute' && apis.length > 0) {
      res = await admin('POST', `/apis/${pick(apis, c.api)}/routes`, c.body);
      if (res.status === 201) routes.push((res.json as { id: string }).id);
    } else if (c.op === 'addTarget' && apis.length > 0) {
      res = await admin('POST', `/apis/${pick(apis, c.api)}/targets`, c.body);
    } else if (c.op === 'patchApi' && apis.length > 0) {
      res = await admin('PATCH', `/apis/${pick(apis, c.api)}`, c.body);
    } else if (c.op === 'patchRoute' && routes.length > 0) {
      res = await admin('PATCH', `/routes/${pick(routes, c.route)}`, c.body);
    } else if (c.op === 'deleteRoute' && routes.length > 0) {
      const id = pick(routes, c.route)!;
      res = await admin('DELETE', `/routes/${id}`);
      if (res.status === 204) routes.splice(routes.indexOf(id), 1);
    } else if (c.op === 'savePlan') {
      const apiIds = [...new Set(c.apis.filter(() => apis.length > 0).map((i) => pick(apis, i)!))];
      res = await admin('POST', '/plans', {
        name: String(c.body.slug),
        quotaPeriod: 'month',
        priceCents: 0,
        visibility: 'public',
        ...c.body,
        overageUnitPriceDecimal: c.body.capMode === 'soft' ? '0.1' : null,
        apiIds,
      });
    }
    if (res === null) continue;
    log.push(`${c.op} ${JSON.stringify(c)} → ${res.status} ${JSON.stringify(res.json).slice(0, 300)}`);
    // Every answer is a success or a 4xx: bad input never becomes a 5xx.
    expect(res.status, log.join('\n')).toBeLessThan(500);
  }
}

/** One request to the gateway with this Host header (fetch does not let a caller set Host). */
function callGateway(method: string, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${gatewayUrl}${path}`, { method, headers: { host }, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('gateway timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function readyz(): Promise<{ config: { version: number; quarantined: unknown[] } }> {
  const res = await fetch(`${adminUrl}/readyz`);
  return (await res.json()) as { config: { version: number; quarantined: unknown[] } };
}

describe('config acceptance (portal → Postgres → gateway processes)', () => {
  it('every configuration the admin API accepts is applied by the gateway, nothing quarantined, every route served', async () => {
    let accepted = 0;
    let refused = 0;
    let routesProbed = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(firstApis, fc.array(command, { minLength: 3, maxLength: 10 })),
        async ([first, more]) => {
          const commands = [...first, ...more];
          // A clean configuration for each run (deletes are valid configurations too).
          await db.prisma.plan.deleteMany({});
          await db.prisma.api.deleteMany({});
          const log: string[] = [];
          await run(commands, log);
          accepted += log.filter((l) => / → 2\d\d /.test(l)).length;
          refused += log.filter((l) => / → 4\d\d /.test(l)).length;
          const version = Number(
            (await db.prisma.configVersion.aggregate({ _max: { version: true } }))._max.version,
          );
          await waitUntil(
            async () => (await readyz()).config.version === version,
            10_000,
            `gateway at version ${version}`,
          );
          const status = (await readyz()).config;
          expect(status.quarantined, log.join('\n')).toEqual([]);

          // Each stored route answers on its own path and method as that route: 401 without a key
          // unless public. Routes sharing a host, path and method with another are skipped.
          const stored = await db.prisma.api.findMany({ include: { routes: true } });
          const keyOf = (h: string, p: string, m: string) => `${h} ${p.toLowerCase()} ${m}`;
          const count = new Map<string, number>();
          const probes: { host: string; path: string; method: string; public: boolean }[] = [];
          for (const api of stored) {
            for (const route of api.routes) {
              const full = joinConfigPaths(api.basePath, route.path);
              const method = route.methods[0] ?? 'GET';
              const host = api.hosts[0] ?? 'unbound.invalid';
              for (const h of api.hosts.length === 0 ? ['unbound.invalid'] : api.hosts)
                for (const m of route.methods.length === 0
                  ? ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']
                  : route.methods)
                  count.set(keyOf(h, full, m), (count.get(keyOf(h, full, m)) ?? 0) + 1);
              probes.push({ host, path: full, method, public: route.public });
            }
          }
          for (const probe of probes) {
            if ((count.get(keyOf(probe.host, probe.path, probe.method)) ?? 0) > 1) continue;
            const res = await callGateway(probe.method, probe.path, probe.host);
            const body = res.body;
            const label = `${probe.method} ${probe.host}${probe.path} → ${res.status} ${body}\n${log.join('\n')}`;
            expect(res.status, label).not.toBe(404);
            if (probe.public) expect(res.status, label).not.toBe(401);
            else expect(res.status, label).toBe(401);
            routesProbed++;
          }
        },
      ),
      { numRuns: RUNS },
    );
    console.log(
      `config acceptance: ${accepted} calls accepted, ${refused} refused, ${routesProbed} routes probed`,
    );
    // The generated calls exercised both sides.
    expect(accepted).toBeGreaterThan(RUNS);
    expect(refused).toBeGreaterThan(RUNS / 2);
    expect(routesProbed).toBeGreaterThan(RUNS / 2);
  }, 600_000);
});
