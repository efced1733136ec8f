import { type Plan, PlanSchema, periodCeiling } from '@tollgate/core';
import { type Target, UpstreamGroup } from '../proxy/upstream.ts';
import type { RawApi, RawSnapshot, RawSubscription } from './types.ts';

/**
 * Validation and compilation of a control-plane snapshot into the structures the hot path
 * reads: a route matcher (host, then longest path prefix on a segment boundary, then method),
 * plans with precomputed header values, consumers and their subscriptions. A snapshot with any
 * problem is refused as a whole (SnapshotError lists every problem).
 */

export class SnapshotError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid control-plane snapshot: ${problems.slice(0, 10).join('; ')}`);
    this.name = 'SnapshotError';
  }
}

export interface CompiledApi {
  id: string;
  slug: string;
  basePath: string;
  stripBasePath: boolean;
  upstreamHost: string | null;
  maxBodyBytes: number;
  upstream: UpstreamGroup;
}

export interface CompiledRoute {
  id: string;
  name: string;
  api: CompiledApi;
  /** null: every method. */
  methods: Set<string> | null;
  /** basePath + route path, normalized (no trailing slash except '/'). */
  prefix: string;
  cost: number;
  timeoutMs: number;
  public: boolean;
  /** Metric label: `<api slug>:<route name>`. */
  label: string;
}

export interface CompiledPlan {
  plan: Plan;
  /** periodCeiling(plan): units admitted per period including overage; null = unlimited. */
  ceiling: number | null;
  apiIds: Set<string>;
  routeIds: Set<string>;
}

export interface CompiledSubscription {
  id: string;
  planId: string;
  status: RawSubscription['status'];
  currentPeriodStart: Date;
  graceUntilMs: number;
  /** Cached quota period (recomputed when `now` leaves it), the limiter's quota and header values. */
  periodStart: number;
  periodEnd: number;
  quota: { limit: number; periodStart: number; periodEnd: number } | null;
  policyHeader: string;
}

export interface CompiledConsumer {
  id: string;
  suspended: boolean;
  subscriptions: CompiledSubscription[];
}

export interface Snapshot {
  loadedAt: number;
  routes: CompiledRoute[];
  plans: Map<string, CompiledPlan>;
  consumers: Map<string, CompiledConsumer>;
  targetKeys: Set<string>;
  match(host: string, path: string, method: string): CompiledRoute | null;
}

class RouteTable {
  readonly byPrefix = new Map<string, CompiledRoute[]>();
  maxPrefixLength = 0;

  add(route: CompiledRoute): void {
    const list = this.byPrefix.get(route.prefix);
    if (list === undefined) this.byPrefix.set(route.prefix, [route]);
    else list.push(route);
    if (route.prefix.length > this.maxPrefixLength) this.maxPrefixLength = route.prefix.length;
  }

  /** Longest prefix on a segment boundary, then the first route of that prefix allowing the method. */
  match(path: string, method: string): CompiledRoute | null {
    let p = path;
    if (p.length > this.maxPrefixLength) {
      const cut = p.lastIndexOf('/', this.maxPrefixLength);
      p = cut <= 0 ? '/' : p.slice(0, cut);
    }
    for (;;) {
      const list = this.byPrefix.get(p);
      if (list !== undefined) {
        for (let i = 0; i < list.length; i++) {
          const r = list[i]!;
          if (r.methods === null || r.methods.has(method)) return r;
        }
      }
      if (p.length <= 1) return null;
      const cut = p.lastIndexOf('/');
      p = cut <= 0 ? '/' : p.slice(0, cut);
    }
  }
}

const HOST_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const PATH_PATTERN = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;
const METHOD_PATTERN = /^[A-Z]{1,16}$/;

export function normalizePrefix(basePath: string, routePath: string): string {
  const joined = `${basePath}/${routePath}`.replace(/\/{2,}/g, '/');
  return joined.length > 1 && joined.endsWith('/') ? joined.replace(/\/+$/, '') || '/' : joined;
}

function checkPath(path: string, what: string, problems: string[]): void {
  if (!PATH_PATTERN.test(path) || DOT_SEGMENT.test(path))
    problems.push(`${what}: invalid path ${JSON.stringify(path)}`);
}

export interface CompileOptions {
  defaultMaxBodyBytes: number;
  /** Gets (or creates) the shared target for an upstream URL. */
  target(url: URL, healthCheckPath: string | null): Target;
  now?: number;
}

export function compileSnapshot(raw: RawSnapshot, opts: CompileOptions): Snapshot {
  const problems: string[] = [];
  const routes: CompiledRoute[] = [];
  const anyHost = new RouteTable();
  const byHost = new Map<string, RouteTable>();
  const targetKeys = new Set<string>();
  // host ('' = any) + prefix → routes already claimed there, for overlap detection.
  const claimed = new Map<string, CompiledRoute[]>();
  const apiIds = new Set<string>();
  const routeIds = new Set<string>();
  const pendingTargets: { api: RawApi; urls: { url: URL; hc: string | null; weight: number }[] }[] = [];

  for (const api of raw.apis) {
    const where = `api ${api.slug}`;
    apiIds.add(api.id);
    checkPath(api.basePath, `${where} base path`, problems);
    const hosts: string[] = [];
    for (const h of api.hosts) {
      const host = h.toLowerCase();
      if (!HOST_PATTERN.test(host)) problems.push(`${where}: invalid host ${JSON.stringify(h)}`);
      hosts.push(host);
    }
    if (api.upstreamHost !== null && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(api.upstreamHost)) {
      problems.push(`${where}: invalid upstream host ${JSON.stringify(api.upstreamHost)}`);
    }
    if (api.maxBodyBytes !== null && (!Number.isInteger(api.maxBodyBytes) || api.maxBodyBytes < 0)) {
      problems.push(`${where}: invalid max body bytes`);
    }
    const urls: { url: URL; hc: string | null; weight: number }[] = [];
    for (const t of api.targets) {
      let url: URL | null = null;
      try {
        url = new URL(t.url);
      } catch {
        problems.push(`${where}: upstream ${JSON.stringify(t.url)} is not a URL`);
        continue;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        problems.push(`${where}: upstream ${JSON.stringify(t.url)} is not http(s)`);
        continue;
      }
      if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
        problems.push(`${where}: upstream ${JSON.stringify(t.url)} must be a plain origin and path`);
        continue;
      }
      if (t.healthCheckPath !== null) checkPath(t.healthCheckPath, `${where} health check`, problems);
      if (!Number.isInteger(t.weight) || t.weight < 1)
        problems.push(`${where}: invalid target weight ${t.weight}`);
      urls.push({ url, hc: t.healthCheckPath, weight: t.weight });
    }
    pendingTargets.push({ api, urls });

    for (const r of api.routes) {
      const rwhere = `${where} route ${r.name}`;
      routeIds.add(r.id);
      checkPath(r.path, rwhere, problems);
      for (const m of r.methods) if (!METHOD_PATTERN.test(m)) problems.push(`${rwhere}: invalid method ${m}`);
      if (!Number.isInteger(r.cost) || r.cost < 0) problems.push(`${rwhere}: invalid cost ${r.cost}`);
      if (!Number.isInteger(r.timeoutMs) || r.timeoutMs <= 0 || r.timeoutMs > 600_000) {
        problems.push(`${rwhere}: invalid timeout ${r.timeoutMs}`);
      }
    }
  }

  const plans = new Map<string, CompiledPlan>();
  for (const p of raw.plans) {
    const { entitlements, ...fields } = p;
    const parsed = PlanSchema.safeParse(fields);
    if (!parsed.success) {
      problems.push(
        `plan ${p.slug}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join(', ')}`,
      );
      continue;
    }
    const compiled: CompiledPlan = {
      plan: parsed.data,
      ceiling: periodCeiling(parsed.data),
      apiIds: new Set(),
      routeIds: new Set(),
    };
    for (const e of entitlements) {
      if (e.routeId === null) compiled.apiIds.add(e.apiId);
      else compiled.routeIds.add(e.routeId);
    }
    plans.set(p.id, compiled);
  }

  if (problems.length > 0) throw new SnapshotError(problems);

  // Valid: build the runtime structures (targets are shared and survive reloads).
  for (const { api, urls } of pendingTargets) {
    const targets = urls.map(({ url, hc }) => {
      targetKeys.add(url.href);
      return opts.target(url, hc);
    });
    const basePath = normalizePrefix(api.basePath, '');
    const compiledApi: CompiledApi = {
      id: api.id,
      slug: api.slug,
      basePath: basePath === '/' ? '' : basePath,
      stripBasePath: api.stripBasePath,
      upstreamHost: api.upstreamHost,
      maxBodyBytes: api.maxBodyBytes ?? opts.defaultMaxBodyBytes,
      upstream: new UpstreamGroup(
        targets,
        api.loadBalancing === 'least_outstanding',
        urls.map((u) => u.weight),
      ),
    };
    const hosts = api.hosts.length === 0 ? [''] : api.hosts.map((h) => h.toLowerCase());
    for (const r of api.routes) {
      const route: CompiledRoute = {
        id: r.id,
        name: r.name,
        api: compiledApi,
        methods: r.methods.length === 0 ? null : new Set(r.methods),
        prefix: normalizePrefix(api.basePath, r.path),
        cost: r.cost,
        timeoutMs: r.timeoutMs,
        public: r.public,
        label: `${api.slug}:${r.name}`,
      };
      routes.push(route);
      for (const host of hosts) {
        const key = `${host}\n${route.prefix}`;
        const others = claimed.get(key) ?? [];
        for (const o of others) {
          if (
            o.methods === null ||
            route.methods === null ||
            [...route.methods].some((m) => o.methods!.has(m))
          ) {
            problems.push(
              `routes ${o.label} and ${route.label} overlap on ${host || '*'}${route.prefix} (same prefix and method)`,
            );
          }
        }
        others.push(route);
        claimed.set(key, others);
        let table = anyHost;
        if (host !== '') {
          table = byHost.get(host) ?? new RouteTable();
          byHost.set(host, table);
        }
        table.add(route);
      }
    }
  }

  for (const p of plans.values()) {
    for (const id of p.apiIds)
      if (!apiIds.has(id)) problems.push(`plan ${p.plan.slug}: entitlement to unknown api`);
    for (const id of p.routeIds) {
      if (!routeIds.has(id)) problems.push(`plan ${p.plan.slug}: entitlement to unknown route`);
    }
  }

  const consumers = new Map<string, CompiledConsumer>();
  for (const c of raw.consumers) {
    consumers.set(c.id, { id: c.id, suspended: c.status === 'suspended', subscriptions: [] });
  }
  for (const s of raw.subscriptions) {
    const c = consumers.get(s.consumerId);
    if (c === undefined) continue;
    if (!plans.has(s.planId)) {
      problems.push(`subscription ${s.id}: unknown plan`);
      continue;
    }
    c.subscriptions.push({
      id: s.id,
      planId: s.planId,
      status: s.status,
      currentPeriodStart: s.currentPeriodStart,
      graceUntilMs: s.graceUntil?.getTime() ?? 0,
      periodStart: 0,
      periodEnd: 0,
      quota: null,
      policyHeader: '',
    });
  }

  if (problems.length > 0) throw new SnapshotError(problems);

  return {
    loadedAt: opts.now ?? Date.now(),
    routes,
    plans,
    consumers,
    targetKeys,
    match(host: string, path: string, method: string): CompiledRoute | null {
      if (host !== '') {
        const t = byHost.get(host);
        if (t !== undefined) {
          const r = t.match(path, method);
          if (r !== null) return r;
        }
      }
      return anyHost.match(path, method);
    },
  };
}

/** The subscription that grants access now: active or trialing, or past_due within its grace period. */
export function activeSubscription(consumer: CompiledConsumer, now: number): CompiledSubscription | null {
  const subs = consumer.subscriptions;
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i]!;
    if (s.status === 'active' || s.status === 'trialing') return s;
    if (s.status === 'past_due' && s.graceUntilMs > now) return s;
  }
  return null;
}
