import { describe, expect, it } from 'vitest';
import { TargetRegistry } from '../proxy/upstream.ts';
import { basePlan, fixtureSnapshot, IDS } from '../testing/fixtures.ts';
import { compileSnapshot, SnapshotError } from './compile-snapshot.ts';
import type { RawSnapshot } from './types.ts';

const registry = new TargetRegistry({
  connections: 1,
  connectTimeoutMs: 100,
  passiveFailures: 1,
  breakerFailures: 1,
  breakerOpenMs: 100,
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

  it('refuses an upstream that is not a URL', () => {
    const raw = fixtureSnapshot('not a url');
    expect(() => compile(raw)).toThrow(SnapshotError);
  });

  it('refuses overlapping routes (same host, prefix and method)', () => {
    const raw = fixtureSnapshot('http://127.0.0.1:1');
    raw.apis[0]!.routes.push({
      id: 'dup',
      name: 'dup',
      methods: ['GET'],
      path: '/heavy/',
      cost: 1,
      timeoutMs: 10,
      public: false,
    });
    expect(() => compile(raw)).toThrow(/overlap/);
  });

  it('refuses a broken route path, method or timeout and an invalid plan', () => {
    for (const mutate of [
      (r: RawSnapshot) => {
        r.apis[0]!.routes[0]!.path = 'no-slash';
      },
      (r: RawSnapshot) => {
        r.apis[0]!.routes[0]!.path = '/a/../b';
      },
      (r: RawSnapshot) => {
        r.apis[0]!.routes[0]!.methods = ['get me'];
      },
      (r: RawSnapshot) => {
        r.apis[0]!.routes[0]!.timeoutMs = 0;
      },
      (r: RawSnapshot) => {
        r.plans[0] = { ...basePlan({ capMode: 'soft' }), entitlements: [] };
      },
      (r: RawSnapshot) => {
        r.apis[0]!.targets[0]!.url = 'ftp://example.com';
      },
    ]) {
      const raw = fixtureSnapshot('http://127.0.0.1:1');
      mutate(raw);
      expect(() => compile(raw)).toThrow(SnapshotError);
    }
  });
});
