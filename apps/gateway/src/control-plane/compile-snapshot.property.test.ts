import { isCanonicalConfigPath, joinConfigPaths, validateProviderConfig } from '@tollgate/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EgressPolicy } from '../proxy/egress-policy.ts';
import { TargetRegistry } from '../proxy/upstream.ts';
import { basePlan } from '../testing/fixtures.ts';
import { compileSnapshot } from './compile-snapshot.ts';
import type { RawApi, RawPlan, RawRoute, RawSnapshot, RawTarget } from './types.ts';

/**
 * Generated configurations, good and bad rows mixed: whatever the validator (the one the admin
 * API uses) accepts, the compiler applies and routes to; whatever it refuses is quarantined
 * alone, and nothing ever throws.
 */

const registry = new TargetRegistry({
  connections: 1,
  connectTimeoutMs: 100,
  passiveFailures: 1,
  breakerFailures: 1,
  breakerOpenMs: 100,
  egress: new EgressPolicy([]),
});

// Valid values, then at most one corruption per API or plan (a third of them): most rows are
// good, and every kind of bad row the admin API used to let through appears.
const segment = fc.constantFrom('v1', 'users', 'heavy', 'a-b', 'x_y', 'it~s', 'A', 'b', 'c');
const path = fc.array(segment, { maxLength: 3 }).map((s) => `/${s.join('/')}`);
const host = fc.constantFrom('api.example.com', 'b.example.com', '127.0.0.1', 'API.example.com');
const url = fc.constantFrom(
  'http://127.0.0.1:4010',
  'https://10.0.0.5:8443/base',
  'http://2:3',
  'http://EXAMPLE.com:80/',
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS');

let ids = 0;
const nextId = () => `id-${++ids}`;

const route: fc.Arbitrary<RawRoute> = fc
  .record({
    name: fc.constantFrom('all', 'heavy', 'health'),
    methods: fc.uniqueArray(method, { minLength: 1, maxLength: 3 }),
    path,
    cost: fc.integer({ min: 0, max: 10 }),
    timeoutMs: fc.integer({ min: 100, max: 300_000 }),
    public: fc.boolean(),
    pathMatch: fc.constantFrom('prefix', 'exact') as fc.Arbitrary<'prefix' | 'exact'>,
  })
  .map((r) => ({ ...r, id: nextId() }));

const target: fc.Arbitrary<RawTarget> = fc
  .record({
    url,
    weight: fc.integer({ min: 1, max: 100 }),
    healthCheckPath: fc.option(path, { nil: null }),
  })
  .map((t) => ({ ...t, id: nextId() }));

type Corruption = (a: RawApi) => void;
const first = <T>(list: T[], f: (x: T) => void) => {
  if (list[0] !== undefined) f(list[0]);
};
const onRoute =
  (change: Partial<RawRoute>): Corruption =>
  (a) =>
    first(a.routes, (r) => Object.assign(r, change));
const onTarget =
  (change: Partial<RawTarget>): Corruption =>
  (a) =>
    first(a.targets, (t) => Object.assign(t, change));
const onApi =
  (change: Partial<RawApi>): Corruption =>
  (a) =>
    Object.assign(a, change);
const apiCorruption: fc.Arbitrary<Corruption> = fc.constantFrom<Corruption>(
  onApi({ hosts: ['2:3'] }),
  onApi({ hosts: ['a.com:8080'] }),
  onApi({ slug: 'Bad Slug' }),
  onApi({ basePath: 'no-slash' }),
  onApi({ upstreamHost: 'bad host' }),
  onApi({ maxBodyBytes: -1 }),
  onRoute({ path: '/users/{id}' }),
  onRoute({ path: '/users/:id' }),
  onRoute({ path: '/%68eavy' }),
  onRoute({ path: '/a;b' }),
  onRoute({ path: '/a//b' }),
  onRoute({ path: '/a/../b' }),
  onRoute({ path: '/héllo' }),
  onRoute({ path: "/o'k" }),
  onRoute({ path: '/v1:batch' }),
  onRoute({ methods: ['TRACE'] }),
  onRoute({ methods: ['get'] }),
  onRoute({ cost: -1 }),
  onRoute({ timeoutMs: 0 }),
  onRoute({ name: '' }),
  onRoute({ pathMatch: 'glob' as 'prefix' }),
  onTarget({ url: 'http://x/?q=1' }),
  onTarget({ url: 'ftp://x' }),
  onTarget({ url: 'http://u:p@x' }),
  onTarget({ url: 'not a url' }),
  onTarget({ weight: 0 }),
  onTarget({ healthCheckPath: '/héalth' }),
);

const api: fc.Arbitrary<RawApi> = fc
  .record({
    slug: fc.constantFrom('echo', 'weather', 'maps', 'pay'),
    hosts: fc.uniqueArray(host, { maxLength: 2 }),
    basePath: path,
    stripBasePath: fc.boolean(),
    upstreamHost: fc.option(fc.constantFrom('echo.internal', 'echo.internal:8080'), { nil: null }),
    loadBalancing: fc.constantFrom('round_robin', 'least_outstanding') as fc.Arbitrary<
      'round_robin' | 'least_outstanding'
    >,
    maxBodyBytes: fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: null }),
    targets: fc.array(target, { maxLength: 3 }),
    routes: fc.array(route, { maxLength: 4 }),
    corrupt: fc.option(apiCorruption, { freq: 2, nil: null }),
  })
  .map(({ corrupt, ...a }) => {
    const row = { ...a, id: nextId() };
    corrupt?.(row);
    return row;
  });

const config = fc.array(api, { maxLength: 4 }).chain((apis) => {
  const routeRefs = apis.flatMap((a) =>
    a.routes.map((r) => ({ apiId: a.id, routeId: r.id as string | null })),
  );
  const apiRefs = apis.map((a) => ({ apiId: a.id, routeId: null as string | null }));
  const refs = [...apiRefs, ...routeRefs, { apiId: 'no-such-api', routeId: null }];
  const plan: fc.Arbitrary<RawPlan> = fc
    .record({
      quota: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }),
      currency: fc.constantFrom('usd', 'eur'),
      entitlements: fc.uniqueArray(fc.constantFrom(...refs), { maxLength: 3 }),
      corrupt: fc.option(
        fc.constantFrom<Partial<RawPlan>>({ capMode: 'soft' }, { currency: 'dollars' }, { burst: 5 }),
        {
          freq: 2,
          nil: null,
        },
      ),
    })
    .map(({ entitlements, corrupt, ...fields }) => {
      const id = nextId();
      return { ...basePlan({ ...fields, id, slug: `plan-${id}` }), ...corrupt, entitlements };
    });
  return fc.array(plan, { maxLength: 3 }).map((plans) => ({ apis, plans }));
});

describe('control-plane.snapshot (generated configurations)', () => {
  it('what the validator accepts is compiled and routed; what it refuses is quarantined alone; nothing throws', () => {
    fc.assert(
      fc.property(config, ({ apis, plans }) => {
        const raw: RawSnapshot = { version: 1, apis, plans, consumers: [], subscriptions: [] };
        const expected = validateProviderConfig(structuredClone({ apis, plans }));
        const snap = compileSnapshot(raw, {
          defaultMaxBodyBytes: 1000,
          target: (u, hc) => registry.acquire(u, hc),
        });
        // A reload of the same rows (validated rows reused) applies exactly the same.
        const reload = compileSnapshot(structuredClone(raw), {
          defaultMaxBodyBytes: 1000,
          target: (u, hc) => registry.acquire(u, hc),
          previous: snap,
        });
        expect(reload.quarantine).toEqual(snap.quarantine);
        expect(reload.routes.map((r) => [r.id, r.label, r.cost])).toEqual(
          snap.routes.map((r) => [r.id, r.label, r.cost]),
        );
        expect(snap.quarantine.map((q) => `${q.kind}:${q.id}`)).toEqual(
          expected.problems.map((p) => `${p.kind}:${p.id}`),
        );
        expect([...snap.apis.keys()]).toEqual(expected.apis.map((a) => a.id));
        expect([...snap.plans.keys()]).toEqual(expected.plans.map((p) => p.id));
        // Every route of every accepted API is served, at a canonical path, and requests for its
        // own path reach it whenever no other route shares that host and path.
        const served = new Set(snap.routes.map((r) => r.id));
        const byPath = new Map<string, number>();
        const keys = (a: (typeof expected.apis)[number], r: (typeof a.routes)[number]) =>
          (a.hosts.length === 0 ? [''] : a.hosts).map(
            (h) => `${h} ${joinConfigPaths(a.basePath, r.path).toLowerCase()}`,
          );
        for (const a of expected.apis)
          for (const r of a.routes) for (const k of keys(a, r)) byPath.set(k, (byPath.get(k) ?? 0) + 1);
        for (const a of expected.apis) {
          for (const r of a.routes) {
            expect(served.has(r.id)).toBe(true);
            const full = joinConfigPaths(a.basePath, r.path);
            expect(isCanonicalConfigPath(full)).toBe(true);
            const hosts = a.hosts.length === 0 ? [''] : a.hosts;
            if (!keys(a, r).every((k) => byPath.get(k) === 1)) continue;
            // Any-host routes are only asked for on a host no API is bound to.
            const askHost = (h: string) => (h === '' ? 'unbound.invalid' : h);
            for (const h of hosts) expect(snap.match(askHost(h), full, r.methods[0] ?? 'GET')?.id).toBe(r.id);
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});
