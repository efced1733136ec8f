import { describe, expect, it } from 'vitest';
import { EgressPolicy } from '../proxy/egress-policy.ts';
import { TargetRegistry } from '../proxy/upstream.ts';
import { fixtureSnapshot, IDS } from '../testing/fixtures.ts';
import { compileSnapshot } from './compile-snapshot.ts';
import type { RawSnapshot } from './types.ts';

const registry = new TargetRegistry({
  connections: 1,
  connectTimeoutMs: 100,
  passiveFailures: 1,
  breakerFailures: 1,
  breakerOpenMs: 100,
  egress: new EgressPolicy([]),
});
const compile = (raw: RawSnapshot) =>
  compileSnapshot(raw, { defaultMaxBodyBytes: 1000, target: (u, hc) => registry.acquire(u, hc) });

describe('control-plane.snapshot', () => {
  it('matches the longest prefix on a segment boundary, then the method', () => {
    const snap = compile(fixtureSnapshot('http://127.0.0.1:1'));
    expect(snap.match('any.host', '/echo/heavy', 'POST')?.id).toBe(IDS.routeHeavy);
    expect(snap.match('any.host', '/echo/heavy/x/y', 'GET')?.id).toBe(IDS.routeHeavy);
    // DELETE is not a method of /heavy: falls back to the catch-all route of the API.
    expect(snap.match('any.host', '/echo/heavy', 'DELETE')?.id).toBe(IDS.routeAll);
    expect(snap.match('any.host', '/echo/heavyweight', 'GET')?.id).toBe(IDS.routeAll);
    expect(snap.match('any.host', '/echo', 'GET')?.id).toBe(IDS.routeAll);
    expect(snap.match('any.host', '/echoes', 'GET')).toBeNull();
    expect(snap.match('any.host', '/', 'GET')).toBeNull();
    expect(snap.match('any.host', `/echo/${'a/'.repeat(5000)}`, 'GET')?.id).toBe(IDS.routeAll);
  });

  it('an exact route matches its path only (one trailing slash aside) and beats a prefix route at the same path', () => {
    const raw = fixtureSnapshot('http://127.0.0.1:1');
    const route = (id: string, path: string, pathMatch: 'prefix' | 'exact', methods: string[] = []) => ({
      id,
      name: id,
      methods,
      path,
      cost: 1,
      timeoutMs: 1000,
      public: false,
      pathMatch,
    });
    raw.apis[0]!.routes.push(
      route('status-exact', '/status', 'exact'),
      route('status-prefix', '/status', 'prefix'),
      route('deep-exact', '/a/b/c', 'exact', ['GET']),
      route('ab-prefix', '/a/b', 'prefix'),
    );
    const snap = compile(raw);
    const id = (path: string, method = 'GET') => snap.match('', path, method)?.id;
    expect(id('/echo/status')).toBe('status-exact');
    expect(id('/echo/status/')).toBe('status-exact');
    expect(id('/echo/status/x')).toBe('status-prefix');
    expect(id('/echo/a/b/c')).toBe('deep-exact');
    expect(id('/echo/a/b/c/')).toBe('deep-exact');
    // Method filtering as for prefixes: the exact route serves GET only.
    expect(id('/echo/a/b/c', 'POST')).toBe('ab-prefix');
    expect(id('/echo/a/b/c/d')).toBe('ab-prefix');
    expect(id('/echo/a/b/cd')).toBe('ab-prefix');
    // The public fixture route is an explicit public prefix.
    expect(id('/echo/public/x')).toBe(IDS.routePublic);
  });

  it('matches route literals case-insensitively and keeps the route spelling of configured paths', () => {
    const raw = fixtureSnapshot('http://127.0.0.1:1');
    raw.apis[0]!.basePath = '/Echo';
    raw.apis[0]!.routes.push({
      id: 'reports',
      name: 'reports',
      methods: [],
      path: '/Reports/~Daily/',
      cost: 3,
      timeoutMs: 1000,
      public: false,
      pathMatch: 'prefix',
    });
    const snap = compile(raw);
    const reports = snap.match('', '/ECHO/reports/~daily/x', 'GET')!;
    expect(reports.id).toBe('reports');
    expect(reports.path).toBe('/Echo/Reports/~Daily');
    expect(snap.match('', '/echo/HEAVY', 'GET')?.id).toBe(IDS.routeHeavy);
    expect(snap.match('', '/eCHo/Heavy/X', 'GET')?.id).toBe(IDS.routeHeavy);
    expect(reports.api.basePath).toBe('/Echo');
  });

  it('quarantines routes that differ only in letter case (same method), accepts an exact and a prefix route at one path', () => {
    const raw = fixtureSnapshot('http://127.0.0.1:1');
    const heavy = raw.apis[0]!.routes.find((r) => r.id === IDS.routeHeavy)!;
    raw.apis[0]!.routes.push({ ...heavy, id: 'heavy-exact', name: 'heavy-exact', pathMatch: 'exact' });
    expect(compile(raw).quarantine).toEqual([]);
    raw.apis[0]!.routes.push({ ...heavy, id: 'heavy-upper', name: 'heavy-upper', path: '/HEAVY' });
    expect(compile(raw).quarantine.map((q) => [q.kind, q.id])).toEqual([['api', IDS.api]]);
  });

  it('prefers routes of an API bound to the request host', () => {
    const raw = fixtureSnapshot('http://127.0.0.1:1');
    const hostApi = structuredClone(raw.apis[0]!);
    hostApi.id = 'api-host';
    hostApi.slug = 'echo-host';
    hostApi.hosts = ['api.example.com'];
    hostApi.routes = [{ ...hostApi.routes[0]!, id: 'host-route', name: 'host-all' }];
    raw.apis.push(hostApi);
    const snap = compile(raw);
    expect(snap.match('api.example.com', '/echo/x', 'GET')?.id).toBe('host-route');
    expect(snap.match('other.example.com', '/echo/x', 'GET')?.id).toBe(IDS.routeAll);
  });

  const second = (raw: RawSnapshot) => {
    const other = structuredClone(raw.apis[0]!);
    other.id = 'api-other';
    other.slug = 'other';
    other.basePath = '/other';
    other.routes = [{ ...other.routes[0]!, id: 'other-all', name: 'other-all' }];
    raw.apis.push(other);
    return raw;
  };

  it('quarantines an API whose upstream is not a URL, alone: the other API is served', () => {
    const raw = second(fixtureSnapshot('http://127.0.0.1:1'));
    raw.apis[0]!.targets[0]!.url = 'not a url';
    const snap = compile(raw);
    expect(snap.quarantine).toEqual([
      expect.objectContaining({ kind: 'api', id: IDS.api, name: 'echo', servingLastGood: false }),
    ]);
    expect(snap.quarantine[0]!.problems[0]).toMatch(/^targets\.t0\.url: an http\(s\) URL/);
    expect(snap.match('h', '/echo/x', 'GET')).toBeNull();
    expect(snap.match('h', '/other/x', 'GET')?.id).toBe('other-all');
  });

  it('quarantines an API with overlapping routes (same host, path, match and method)', () => {
    const raw = second(fixtureSnapshot('http://127.0.0.1:1'));
    raw.apis[0]!.routes.push({
      id: 'dup',
      name: 'dup',
      methods: ['GET'],
      path: '/heavy/',
      cost: 1,
      timeoutMs: 1000,
      public: false,
      pathMatch: 'prefix',
    });
    const snap = compile(raw);
    expect(snap.quarantine.map((q) => [q.kind, q.id])).toEqual([['api', IDS.api]]);
    expect(snap.quarantine[0]!.problems[0]).toMatch(/overlaps route "heavy"/);
    expect(snap.match('h', '/other/x', 'GET')?.id).toBe('other-all');
  });

  it('quarantines a broken route path, method or timeout, a bad target and an invalid plan, each alone', () => {
    const mutations: [(r: RawSnapshot) => void, 'api' | 'plan'][] = [
      [(r) => Object.assign(r.apis[0]!.routes[0]!, { path: 'no-slash' }), 'api'],
      [(r) => Object.assign(r.apis[0]!.routes[0]!, { path: '/a/../b' }), 'api'],
      [(r) => Object.assign(r.apis[0]!.routes[0]!, { path: '/users/{id}' }), 'api'],
      [(r) => Object.assign(r.apis[0]!.routes[0]!, { path: '/a;b' }), 'api'],
      [(r) => Object.assign(r.apis[0]!.routes[0]!, { path: '/a%2Fb' }), 'api'],
      [(r) => Object.assign(r.apis[0]!.routes[0]!, { methods: ['get me'] }), 'api'],
      [(r) => Object.assign(r.apis[0]!.routes[0]!, { timeoutMs: 0 }), 'api'],
      [(r) => Object.assign(r.apis[0]!.targets[0]!, { url: 'ftp://example.com' }), 'api'],
      [(r) => Object.assign(r.apis[0]!.targets[0]!, { url: 'http://example.com/?q=1' }), 'api'],
      [(r) => Object.assign(r.apis[0]!.targets[0]!, { healthCheckPath: '/héalth' }), 'api'],
      [(r) => Object.assign(r.apis[0]!, { hosts: ['2:3'] }), 'api'],
      [(r) => Object.assign(r.plans[0]!, { capMode: 'soft' }), 'plan'],
    ];
    for (const [mutate, kind] of mutations) {
      const raw = second(fixtureSnapshot('http://127.0.0.1:1'));
      mutate(raw);
      const snap = compile(raw);
      expect(snap.quarantine.filter((q) => q.kind !== 'subscription').map((q) => q.kind)).toEqual([kind]);
      // The rest applies: the other API always, and the consumers.
      expect(snap.match('h', '/other/x', 'GET')?.id).toBe('other-all');
      expect(snap.consumers.size).toBe(4);
    }
  });

  it('serves the last good version of a quarantined API and plan while it is broken', () => {
    const good = compile(fixtureSnapshot('http://127.0.0.1:1'));
    const raw = fixtureSnapshot('http://127.0.0.1:1');
    raw.apis[0]!.routes[1]!.path = '/users/{id}';
    raw.apis[0]!.routes[1]!.cost = 99;
    raw.plans[0]!.currency = 'dollars';
    const snap = compileSnapshot(raw, {
      defaultMaxBodyBytes: 1000,
      target: (u, hc) => registry.acquire(u, hc),
      previous: good,
    });
    expect(snap.quarantine.map((q) => [q.kind, q.servingLastGood])).toEqual([
      ['api', true],
      ['plan', true],
    ]);
    expect(snap.match('h', '/echo/heavy', 'GET')?.cost).toBe(5);
    expect(snap.plans.get(IDS.plan)?.plan.currency).toBe('usd');
    expect(snap.consumers.get(IDS.consumer)?.subscriptions).toHaveLength(1);
  });

  it('an API already served keeps its routes when a changed API moves on top of them', () => {
    const raw = second(fixtureSnapshot('http://127.0.0.1:1'));
    const before = compile(raw);
    const moved = structuredClone(raw);
    moved.apis[1]!.basePath = '/echo'; // other's catch-all now overlaps echo's
    // The changed API comes first in the rows: the served one still wins.
    moved.apis.reverse();
    const snap = compileSnapshot(moved, {
      defaultMaxBodyBytes: 1000,
      target: (u, hc) => registry.acquire(u, hc),
      previous: before,
    });
    expect(snap.quarantine).toEqual([expect.objectContaining({ id: 'api-other', servingLastGood: true })]);
    expect(snap.match('h', '/echo/x', 'GET')?.id).toBe(IDS.routeAll);
    expect(snap.match('h', '/other/x', 'GET')?.id).toBe('other-all');
  });

  it('quarantines a subscription to an unknown plan alone', () => {
    const raw = fixtureSnapshot('http://127.0.0.1:1');
    raw.subscriptions[0]!.planId = 'no-such-plan';
    const snap = compile(raw);
    expect(snap.quarantine).toEqual([
      expect.objectContaining({ kind: 'subscription', id: IDS.sub, problems: ['unknown plan no-such-plan'] }),
    ]);
    expect(snap.consumers.get(IDS.consumer)?.subscriptions).toHaveLength(0);
    expect(snap.consumers.get(IDS.consumer2)?.subscriptions).toHaveLength(1);
  });
});
