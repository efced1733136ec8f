import { canonicalRequestPath, isPathRefusal } from '@tollgate/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EgressPolicy } from '../proxy/egress-policy.ts';
import { TargetRegistry } from '../proxy/upstream.ts';
import { upstreamPathFor } from '../proxy/upstream-path.ts';
import { fixtureSnapshot } from '../testing/fixtures.ts';
import { type CompiledRoute, compileSnapshot } from './compile-snapshot.ts';
import type { RawRoute } from './types.ts';

const registry = new TargetRegistry({
  connections: 1,
  connectTimeoutMs: 100,
  passiveFailures: 1,
  breakerFailures: 1,
  breakerOpenMs: 100,
  egress: new EgressPolicy([]),
});

/** A few segments, so generated requests often hit generated routes (any letter case). */
const segment = fc.constantFrom('a', 'B', 'heavy', 'Health', 'x-1', 'v2', 'q~', '%C3%A9');
const routePath = fc.array(segment, { maxLength: 3 }).map((s) => `/${s.join('/')}`);
const methods = fc.constantFrom<string[]>([], ['GET'], ['POST'], ['GET', 'POST']);
const routes = fc.uniqueArray(
  fc.record({ path: routePath, exact: fc.boolean(), methods }),
  // One route per path, kind and method set: overlapping routes are refused by the compiler.
  { selector: (r) => `${r.path.toLowerCase()} ${r.exact} ${r.methods.length > 0}`, maxLength: 8 },
);
const requestPath = fc
  .tuple(fc.array(segment, { maxLength: 5 }), fc.boolean())
  .map(([s, slash]) => `/${s.join('/')}${slash && s.length > 0 ? '/' : ''}`);

/** The same path spelled differently: letter case, doubled slashes, escaped unreserved characters. */
function alias(path: string, how: number[]): string {
  return [...path]
    .map((ch, i) => {
      const pick = how[i % how.length]!;
      if (pick === 1) return ch === '/' ? '//' : /[A-Za-z]/.test(ch) ? ch.toUpperCase() : ch;
      if (pick === 2) return /[a-z]/.test(ch) ? `%${ch.charCodeAt(0).toString(16)}` : ch;
      if (pick === 3) return ch.toLowerCase();
      return ch;
    })
    .join('');
}

function compileRoutes(generated: { path: string; exact: boolean; methods: string[] }[], strip: boolean) {
  const raw = fixtureSnapshot('http://127.0.0.1:1');
  const api = raw.apis[0]!;
  api.stripBasePath = strip;
  api.routes = generated.map(
    (r, i): RawRoute => ({
      id: `r${i}`,
      name: `r${i}`,
      methods: r.methods,
      path: r.path,
      cost: i + 1,
      timeoutMs: 1000,
      public: false,
      pathMatch: r.exact ? 'exact' : 'prefix',
    }),
  );
  raw.plans[0]!.entitlements = [];
  try {
    return compileSnapshot(raw, { defaultMaxBodyBytes: 1000, target: (u, hc) => registry.acquire(u, hc) });
  } catch {
    return null; // e.g. '/B' and '/b' with the same methods: overlap, refused as a whole
  }
}

/** The rule as the README states it, over the compiled routes' paths. */
function reference(all: CompiledRoute[], canonical: string, method: string): CompiledRoute | null {
  const lower = canonical.toLowerCase();
  const p = lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
  const fits = all.filter((r) => {
    if (r.methods !== null && !r.methods.has(method)) return false;
    const key = r.path.toLowerCase();
    return r.exact ? p === key : p === key || key === '/' || p.startsWith(`${key}/`);
  });
  fits.sort((a, b) => Number(b.exact) - Number(a.exact) || b.path.length - a.path.length);
  return fits[0] ?? null;
}

describe('route table (property)', () => {
  it('matches as the reference rule; every alias of a path matches the same route; what is forwarded is canonical and matches that route again', () => {
    fc.assert(
      fc.property(
        routes,
        requestPath,
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 16 }),
        fc.constantFrom('GET', 'POST', 'DELETE'),
        (generated, path, how, method) => {
          // Not stripping the base path: the forwarded path is then a full request path.
          const snap = compileRoutes(generated, false);
          if (snap === null) return;
          const canonical = canonicalRequestPath(`/echo${path}`);
          if (isPathRefusal(canonical)) throw new Error(`generated path refused: ${path}`);
          const route = snap.match('', canonical, method);
          expect(route?.id ?? null).toBe(reference(snap.routes, canonical, method)?.id ?? null);

          const other = canonicalRequestPath(alias(`/echo${path}`, how));
          if (isPathRefusal(other)) throw new Error(`alias refused: ${alias(path, how)}`);
          expect(snap.match('', other, method)?.id ?? null).toBe(route?.id ?? null);

          if (route === null) return;
          const forwarded = upstreamPathFor(route, other, '');
          expect(canonicalRequestPath(forwarded)).toBe(forwarded);
          expect(snap.match('', forwarded, method)?.id).toBe(route.id);
          // The matched part is spelled as the route spells it.
          expect(forwarded.startsWith(route.path)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('with the base path stripped, the upstream gets what follows the base path, then the query as sent', () => {
    fc.assert(
      fc.property(routes, requestPath, (generated, path) => {
        const snap = compileRoutes(generated, true);
        if (snap === null) return;
        const canonical = canonicalRequestPath(`/ECHO${path}`) as string;
        const route = snap.match('', canonical, 'GET');
        if (route === null) return;
        const full = upstreamPathFor(
          { ...route, api: { ...route.api, stripBasePath: false } },
          canonical,
          '',
        );
        expect(full.startsWith('/echo')).toBe(true);
        const rest = full.slice('/echo'.length);
        expect(upstreamPathFor(route, canonical, '?q=%41&b')).toBe(`${rest === '' ? '/' : rest}?q=%41&b`);
      }),
      { numRuns: 1000 },
    );
  });
});
