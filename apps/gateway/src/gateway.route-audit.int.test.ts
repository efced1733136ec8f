import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { MemoryUsageSink } from '@tollgate/core';
import { createPrisma, DEMO_API_KEY, type PrismaClient, seedDemoData } from '@tollgate/db';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { createRedis, RedisLimiter, waitForRedis } from '@tollgate/redis';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../../../infra/testing/stack.ts';
import { PostgresControlPlaneSource } from './control-plane/postgres-source.ts';
import { buildTestGateway, type Echo, startEcho, type TestGateway } from './testing/fixtures.ts';

/**
 * The route-table audit: generated from the configuration in Postgres (the demo seed plus
 * routes that exercise every matching rule), against a gateway on the Postgres control plane
 * with the Redis limiter. For every route and method, aliases of a path under it (doubled
 * slashes, escaped unreserved characters, letter case, a trailing slash, `;` parameters, dot
 * segments, encoded separators) must be refused with 400, or be priced as that route (the quota
 * drops by its cost, the usage event names it and its units) and reach the echo upstream as the
 * canonical path. For every public route, paths under it that belong to a non-public route get
 * 401 without a credential and never reach the upstream.
 *
 * The expected route of a path comes from a reference matcher written here from the rules in
 * the README (not from the gateway's route table), and the expected upstream path from how each
 * alias was built.
 */

const stack = sharedStackEnv();
const QUOTA = 1_000_000;
const ALL_METHODS = ['GET', 'POST'];

/** Routes added to the demo API: a public prefix with a private route below it, an exact route, mixed case (the echo gives /status, /slow and /bytes a meaning: not used). */
const EXTRA_ROUTES = [
  { name: 'Docs', methods: ['GET'], path: '/docs', cost: 0, public: true, pathMatch: 'prefix' },
  { name: 'Docs drafts', methods: [], path: '/docs/drafts', cost: 2, public: false, pathMatch: 'prefix' },
  { name: 'Summary', methods: ['GET'], path: '/summary', cost: 3, public: false, pathMatch: 'exact' },
  {
    name: 'Reports',
    methods: ['GET', 'POST'],
    path: '/Reports/Daily',
    cost: 4,
    public: false,
    pathMatch: 'prefix',
  },
  { name: 'Ping', methods: [], path: '/ping', cost: 0, public: true, pathMatch: 'exact' },
] as const;

interface AuditRoute {
  id: string;
  name: string;
  methods: string[];
  /** Base path + route path as configured (its spelling), without trailing slash. */
  fullPath: string;
  key: string;
  exact: boolean;
  public: boolean;
  cost: number;
  basePath: string;
  stripBasePath: boolean;
}

const join = (base: string, path: string) => `${base}/${path}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');

/** The reference rule: an exact route at the path, else the longest prefix on a segment boundary; letter case and one trailing slash aside. */
function expectedRoute(routes: AuditRoute[], canonical: string, method: string): AuditRoute | null {
  const lower = canonical.toLowerCase();
  const p = lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
  const fits = routes.filter(
    (r) =>
      (r.methods.length === 0 || r.methods.includes(method)) &&
      (r.exact ? p === r.key : p === r.key || r.key === '/' || p.startsWith(`${r.key}/`)),
  );
  fits.sort((a, b) => Number(b.exact) - Number(a.exact) || b.key.length - a.key.length);
  return fits[0] ?? null;
}

interface Alias {
  kind: string;
  path: string;
  /** The canonical form this alias must be matched and forwarded as; null: refused (400). */
  canonical: string | null;
}

/** Escapes one unreserved letter of the last segment (lower-case hex), if it has one. */
function escapeOneLetter(path: string): string | null {
  const i = path.search(/[a-zA-Z](?=[^/]*$)/);
  return i < 0 ? null : `${path.slice(0, i)}%${path.charCodeAt(i).toString(16)}${path.slice(i + 1)}`;
}

/** `sample` with its last `/` replaced by `separator` (one segment: `separator` and a segment appended). */
function joinLast(sample: string, separator: string): string {
  const i = sample.lastIndexOf('/');
  return i > 0 ? `${sample.slice(0, i)}${separator}${sample.slice(i + 1)}` : `${sample}${separator}x`;
}

function aliasesOf(sample: string): Alias[] {
  const segments = sample.split('/').filter((s) => s !== '');
  const last = segments.at(-1) ?? '';
  const aliases: Alias[] = [
    { kind: 'itself', path: sample, canonical: sample },
    { kind: 'leading //', path: `/${sample}`, canonical: sample },
    { kind: 'every / doubled', path: sample.replaceAll('/', '//'), canonical: sample },
    { kind: 'upper case', path: sample.toUpperCase(), canonical: sample.toUpperCase() },
    { kind: 'lower case', path: sample.toLowerCase(), canonical: sample.toLowerCase() },
    { kind: 'trailing /', path: `${sample}/`, canonical: `${sample}/` },
    { kind: 'trailing //', path: `${sample}//`, canonical: `${sample}/` },
    { kind: ';param', path: `${sample};x=1`, canonical: null },
    { kind: ';param mid-path', path: sample.replace(/^(\/[^/]+)/, '$1;v=2'), canonical: null },
    { kind: '%3B', path: `${sample}%3Bx`, canonical: null },
    { kind: 'dot segment', path: `${sample}/.`, canonical: null },
    { kind: 'dot-dot', path: `${sample}/../${last}`, canonical: null },
    { kind: '%2e%2e', path: `${sample}/%2e%2e/${last}`, canonical: null },
    { kind: '%2F', path: joinLast(sample, '%2F'), canonical: null },
    { kind: 'backslash', path: joinLast(sample, '\\'), canonical: null },
  ];
  const escaped = escapeOneLetter(sample);
  const upperEscaped = escapeOneLetter(sample.toUpperCase());
  if (escaped !== null && upperEscaped !== null) {
    aliases.push(
      { kind: 'escaped letter', path: escaped, canonical: sample },
      {
        kind: 'escaped letter, upper-case hex',
        path: escaped.replace(/%(..)/, (_m, h: string) => `%${h.toUpperCase()}`),
        canonical: sample,
      },
      {
        kind: 'upper case, escaped letter, leading //',
        path: `/${upperEscaped}`,
        canonical: sample.toUpperCase(),
      },
    );
  }
  return aliases;
}

/** What the upstream must see for `canonical` matched to `route`: the matched part in the route's spelling. */
function forwardedPath(route: AuditRoute, canonical: string): string {
  const spelled = route.exact ? route.fullPath : route.fullPath + canonical.slice(route.fullPath.length);
  const rest = route.stripBasePath ? spelled.slice(route.basePath.length) : spelled;
  return rest.startsWith('/') ? rest : `/${rest}`;
}

describe('gateway.route-audit (Postgres control plane, Redis limiter, demo configuration)', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let echo: Echo;
  let gw: TestGateway;
  let client: Pool;
  let routes: AuditRoute[];
  let redis: ReturnType<typeof createRedis>;

  beforeAll(async () => {
    db = await createTestDatabase();
    echo = await startEcho();
    const seed = await seedDemoData(db.prisma);
    await db.prisma.upstreamTarget.updateMany({ where: { apiId: seed.apiId }, data: { url: echo.url } });
    for (const r of EXTRA_ROUTES) {
      await db.prisma.route.create({
        data: { apiId: seed.apiId, timeoutMs: 5000, ...r, methods: [...r.methods] },
      });
    }
    // The audit sends a few hundred requests: no rate limit, a quota that lasts.
    await db.prisma.plan.update({
      where: { id: seed.planIds.free },
      data: { rateLimitPerSecond: null, burst: null, quota: QUOTA },
    });
    redis = createRedis({ url: stack.REDIS_URL!, commandTimeoutMs: 2000 });
    await waitForRedis(redis);
    const limiter = new RedisLimiter({ redis, timeoutMs: 2000, keyPrefix: `test:audit:${randomUUID()}:` });
    prisma = createPrisma(db.url);
    gw = await buildTestGateway(new PostgresControlPlaneSource(prisma, db.url), {
      limiter,
      upstreamAllow: [`127.0.0.1:${echo.port}`],
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    client = new Pool(`http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`, {
      connections: 4,
    });

    const apis = await db.prisma.api.findMany({ include: { routes: true } });
    routes = apis.flatMap((api) =>
      api.routes.map((r) => {
        const fullPath = join(api.basePath, r.path);
        return {
          id: r.id,
          name: r.name,
          methods: r.methods,
          fullPath,
          key: fullPath.toLowerCase(),
          exact: r.pathMatch === 'exact',
          public: r.public,
          cost: r.cost,
          basePath: api.basePath,
          stripBasePath: api.stripBasePath,
        };
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await gw?.close();
    await prisma?.$disconnect();
    redis?.disconnect();
    await echo?.close();
    await db?.drop();
  });

  async function send(method: string, path: string, key: string | null) {
    const before = echo.requests.length;
    const res = await client.request({
      method: method as 'GET',
      path,
      headers: key === null ? {} : { 'x-api-key': key },
    });
    const text = await res.body.text();
    const reached = echo.requests.slice(before);
    return {
      status: res.statusCode,
      headers: res.headers,
      body: text,
      upstream: reached.map((r) => r.url),
    };
  }

  const methodsOf = (r: AuditRoute) => (r.methods.length === 0 ? ALL_METHODS : r.methods);

  /** Paths under a route that the reference matcher gives to that route (the route's own spelling). */
  function samplesOf(route: AuditRoute, method: string): string[] {
    const candidates = route.exact
      ? [route.fullPath]
      : [route.fullPath, `${route.fullPath}/Audit-${route.name.replace(/\W/g, '')}/x`];
    return candidates.filter((s) => expectedRoute(routes, s, method)?.id === route.id);
  }

  it('the configuration under audit has public exact and prefix routes, private routes below public ones, an exact private route and a mixed-case route', () => {
    expect(routes.some((r) => r.public && r.exact && r.name === 'Health')).toBe(true);
    expect(routes.some((r) => r.public && !r.exact)).toBe(true);
    expect(routes.some((r) => !r.public && r.exact)).toBe(true);
    expect(routes.some((r) => r.fullPath !== r.key)).toBe(true);
    expect(routes.filter((r) => !r.public).length).toBeGreaterThanOrEqual(5);
  });

  it('every alias of every route is refused with 400, or priced as that route and forwarded as the canonical path', async () => {
    const events = gw.sink as MemoryUsageSink;
    let remaining = QUOTA;
    let checked = 0;
    for (const route of routes) {
      for (const method of methodsOf(route)) {
        const samples = samplesOf(route, method);
        expect(samples.length, `${route.name} ${method}`).toBeGreaterThan(0);
        for (const sample of samples) {
          for (const alias of aliasesOf(sample)) {
            const what = `${method} ${alias.path} (${alias.kind} of ${route.name})`;
            const res = await send(method, alias.path, route.public ? null : DEMO_API_KEY);
            checked++;
            if (alias.canonical === null) {
              expect(res.status, what).toBe(400);
              expect(res.headers['content-type'], what).toBe('application/problem+json');
              expect(JSON.parse(res.body).code, what).toBe('BAD_PATH');
              expect(res.upstream, what).toEqual([]);
              continue;
            }
            // The reference matcher agrees the alias's canonical form belongs to this route.
            expect(expectedRoute(routes, alias.canonical, method)?.id, what).toBe(route.id);
            expect(res.status, `${what}: ${res.body}`).toBe(200);
            expect(res.upstream, what).toEqual([forwardedPath(route, alias.canonical)]);
            if (route.public) {
              expect(res.headers['x-tollgate-event-id'], what).toBeUndefined();
              continue;
            }
            remaining -= route.cost;
            expect(Number(res.headers['x-ratelimit-remaining']), what).toBe(remaining);
            const event = events.events.find((e) => e.id === res.headers['x-tollgate-event-id']);
            expect(event?.data, what).toMatchObject({
              routeId: route.id,
              units: route.cost,
              billable: true,
              status: 200,
            });
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(300);
  }, 120_000);

  it('under every public route, paths that belong to a non-public route get 401 without a credential and never reach the upstream', async () => {
    const publicRoutes = routes.filter((r) => r.public);
    expect(publicRoutes.length).toBeGreaterThanOrEqual(3);
    let privateHits = 0;
    for (const route of publicRoutes) {
      const p = route.fullPath;
      const under = [
        `${p}/x`,
        `${p}/x/y`,
        `${p}/heavy`,
        `${p}/drafts/1`,
        `${p}//x`,
        `${p}/%78`,
        `${p.toUpperCase()}/X/`,
        `${p}x`,
        `${p}-internal`,
        `${p}.json`,
      ];
      for (const method of ['GET', 'POST', 'DELETE']) {
        for (const path of under) {
          // The canonical form, as built: doubled slashes and %78 are what the README says.
          const canonical = path.replace(/\/\/+/g, '/').replace('%78', 'x');
          const expected = expectedRoute(routes, canonical, method);
          const res = await send(method, path, null);
          const what = `${method} ${path} → ${expected?.name ?? 'no route'}`;
          if (expected === null) {
            expect(res.status, what).toBe(404);
          } else if (expected.public) {
            expect(res.status, what).toBe(200);
            expect(res.upstream, what).toEqual([forwardedPath(expected, canonical)]);
          } else {
            privateHits++;
            expect(res.status, what).toBe(401);
            expect(res.headers['www-authenticate'], what).toBe('Bearer realm="tollgate"');
            expect(res.upstream, what).toEqual([]);
          }
        }
      }
    }
    // Among them the demo's own leak: /echo/health/x belongs to the catch-all, not to Health.
    expect(privateHits).toBeGreaterThanOrEqual(40);
  }, 120_000);
});
