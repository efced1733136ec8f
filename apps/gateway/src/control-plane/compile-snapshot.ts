import {
  billingAnchorOf,
  type ConfigProblem,
  formatIssue,
  type Plan,
  periodCeiling,
  type ValidApi,
  validateProviderConfig,
} from '@tollgate/core';
import { type Target, UpstreamGroup } from '../proxy/upstream.ts';
import { RouteTable } from './route-table.ts';
import type { RawApi, RawPlan, RawSnapshot, RawSubscription } from './types.ts';

/**
 * Validation and compilation of a control-plane snapshot into the structures the hot path
 * reads: a route matcher (host, then the most specific route: route-table.ts),
 * plans with precomputed header values, consumers and their subscriptions. Rows are validated
 * one by one with core's validateProviderConfig (the validator the admin API uses): a bad API,
 * plan or subscription is quarantined alone (its last good version from `previous` is served
 * when there is one) and everything else applies.
 */

/** A row the snapshot does not serve as it is stored. */
export interface QuarantineEntry {
  kind: 'api' | 'plan' | 'subscription';
  id: string;
  /** Slug (APIs, plans) or consumer id (subscriptions). */
  name: string;
  problems: string[];
  /** The row's last good version is served instead (false: the row is not served at all). */
  servingLastGood: boolean;
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
  /**
   * basePath + route path in canonical form, in the route's own spelling (no trailing slash
   * except '/'): the matched part of a request path is forwarded spelled like this.
   */
  path: string;
  /** `path` lower-cased: what requests are matched against (case-insensitively). */
  matchKey: string;
  /** pathMatch 'exact': this path only (with or without one trailing slash); else a prefix. */
  exact: boolean;
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
  /** billingAnchorOf(row): quota periods are aligned to it (kept across plan changes). */
  billingAnchor: Date;
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
  /** The configuration version applied (null: the source has no versions). */
  version: number | null;
  /** Rows not served as stored. */
  quarantine: QuarantineEntry[];
  /** The rows served, as loaded (a quarantined row's last good version): the next compile's fallbacks. */
  accepted: { apis: Map<string, RawApi>; plans: Map<string, RawPlan> };
  /** The accepted APIs validated, with the JSON of their row: an unchanged row is not validated again. */
  validApis: Map<string, { json: string; api: ValidApi }>;
  apis: Map<string, CompiledApi>;
  routes: CompiledRoute[];
  plans: Map<string, CompiledPlan>;
  consumers: Map<string, CompiledConsumer>;
  targetKeys: Set<string>;
  /** `path`: the canonical request path (core's canonicalRequestPath); matched case-insensitively. */
  match(host: string, path: string, method: string): CompiledRoute | null;
}

export function normalizePrefix(basePath: string, routePath: string): string {
  const joined = `${basePath}/${routePath}`.replace(/\/{2,}/g, '/');
  return joined.length > 1 && joined.endsWith('/') ? joined.replace(/\/+$/, '') || '/' : joined;
}

export interface CompileOptions {
  defaultMaxBodyBytes: number;
  /** Gets (or creates) the shared target for an upstream URL. */
  target(url: URL, healthCheckPath: string | null): Target;
  now?: number;
  /** The snapshot served so far: its rows go first in overlap checks and stand in for refused ones. */
  previous?: Snapshot | null;
  /** Last good rows from the configuration history, where `previous` has none (last-good-rows.ts). */
  history?: { apis: Map<string, RawApi>; plans: Map<string, RawPlan> };
}

function quarantined(p: ConfigProblem): QuarantineEntry {
  return {
    kind: p.kind,
    id: p.id,
    name: p.name,
    problems: p.issues.map(formatIssue),
    servingLastGood: p.fallback,
  };
}

export function compileSnapshot(raw: RawSnapshot, opts: CompileOptions): Snapshot {
  const previous = opts.previous ?? null;
  const lastGoodApi = (id: string) => previous?.accepted.apis.get(id) ?? opts.history?.apis.get(id);
  const lastGoodPlan = (id: string) => previous?.accepted.plans.get(id) ?? opts.history?.plans.get(id);
  const routes: CompiledRoute[] = [];
  const anyHost = new RouteTable<CompiledRoute>();
  const byHost = new Map<string, RouteTable<CompiledRoute>>();
  const targetKeys = new Set<string>();
  const compiledApis = new Map<string, CompiledApi>();

  const jsonOf = new Map<RawApi, string>();
  const json = (a: RawApi): string => {
    let j = jsonOf.get(a);
    if (j === undefined) {
      j = JSON.stringify(a);
      jsonOf.set(a, j);
    }
    return j;
  };
  const known = (a: RawApi) => {
    const entry = previous?.validApis.get(a.id);
    return entry !== undefined && entry.json === json(a) ? entry.api : undefined;
  };
  // Rows served before and unchanged go first: a changed row cannot push them out by overlapping.
  const apisInOrder = [
    ...raw.apis.filter((a) => known(a) !== undefined),
    ...raw.apis.filter((a) => known(a) === undefined),
  ];
  const validated = validateProviderConfig(
    { apis: apisInOrder, plans: raw.plans },
    { lastGoodApi, lastGoodPlan, validatedApi: known },
  );
  const quarantine = validated.problems.map(quarantined);
  const fellBack = new Set(validated.problems.filter((p) => p.fallback).map((p) => `${p.kind}:${p.id}`));
  const rawApis = new Map(raw.apis.map((a) => [a.id, a]));
  const rawPlans = new Map(raw.plans.map((p) => [p.id, p]));
  const accepted = { apis: new Map<string, RawApi>(), plans: new Map<string, RawPlan>() };
  const validApis = new Map<string, { json: string; api: ValidApi }>();
  for (const api of validated.apis) {
    const row = fellBack.has(`api:${api.id}`) ? lastGoodApi(api.id) : rawApis.get(api.id);
    if (row === undefined) continue;
    accepted.apis.set(api.id, row);
    validApis.set(api.id, { json: json(row), api });
  }
  for (const { id } of validated.plans) {
    const row = fellBack.has(`plan:${id}`) ? lastGoodPlan(id) : rawPlans.get(id);
    if (row !== undefined) accepted.plans.set(id, row);
  }

  const plans = new Map<string, CompiledPlan>();
  for (const p of validated.plans) {
    const { entitlements, ...plan } = p;
    const compiled: CompiledPlan = {
      plan,
      ceiling: periodCeiling(plan),
      apiIds: new Set(),
      routeIds: new Set(),
    };
    for (const e of entitlements) {
      if (e.routeId === null) compiled.apiIds.add(e.apiId);
      else compiled.routeIds.add(e.routeId);
    }
    plans.set(p.id, compiled);
  }

  // Build the runtime structures (targets are shared and survive reloads).
  for (const api of validated.apis) {
    const targets = api.targets.map((t) => {
      const url = new URL(t.url);
      targetKeys.add(url.href);
      return opts.target(url, t.healthCheckPath);
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
        api.targets.map((t) => t.weight),
      ),
    };
    compiledApis.set(api.id, compiledApi);
    const hosts = api.hosts.length === 0 ? [''] : api.hosts;
    for (const r of api.routes) {
      // The validator admits canonical paths only (core's config-path.ts), so the joined path is
      // already in the form requests are matched in.
      const path = normalizePrefix(api.basePath, r.path);
      const route: CompiledRoute = {
        id: r.id,
        name: r.name,
        api: compiledApi,
        methods: r.methods.length === 0 ? null : new Set(r.methods),
        path,
        matchKey: path.toLowerCase(),
        exact: r.pathMatch === 'exact',
        cost: r.cost,
        timeoutMs: r.timeoutMs,
        public: r.public,
        label: `${api.slug}:${r.name}`,
      };
      routes.push(route);
      // Overlaps were refused by the validator (RouteClaims), so each route is unambiguous.
      for (const host of hosts) {
        let table = anyHost;
        if (host !== '') {
          table = byHost.get(host) ?? new RouteTable<CompiledRoute>();
          byHost.set(host, table);
        }
        table.add(route);
      }
    }
  }

  const consumers = new Map<string, CompiledConsumer>();
  for (const c of raw.consumers) {
    consumers.set(c.id, { id: c.id, suspended: c.status === 'suspended', subscriptions: [] });
  }
  for (const s of raw.subscriptions) {
    const c = consumers.get(s.consumerId);
    if (c === undefined) continue;
    const problems = subscriptionProblems(s, rawPlans, plans);
    if (problems.length > 0) {
      quarantine.push({
        kind: 'subscription',
        id: s.id,
        name: s.consumerId,
        problems,
        servingLastGood: false,
      });
      continue;
    }
    c.subscriptions.push({
      id: s.id,
      planId: s.planId,
      status: s.status,
      billingAnchor: billingAnchorOf(s),
      graceUntilMs: s.graceUntil?.getTime() ?? 0,
      periodStart: 0,
      periodEnd: 0,
      quota: null,
      policyHeader: '',
    });
  }

  return {
    loadedAt: opts.now ?? Date.now(),
    version: raw.version,
    quarantine,
    accepted,
    validApis,
    apis: compiledApis,
    routes,
    plans,
    consumers,
    targetKeys,
    match(host: string, path: string, method: string): CompiledRoute | null {
      // V8 returns the string itself when it has no upper-case letter (no allocation).
      const lower = path.toLowerCase();
      if (host !== '') {
        const t = byHost.get(host);
        if (t !== undefined) {
          const r = t.match(lower, method);
          if (r !== null) return r;
        }
      }
      return anyHost.match(lower, method);
    },
  };
}

function subscriptionProblems(
  s: RawSubscription,
  rawPlans: Map<string, RawPlan>,
  plans: Map<string, CompiledPlan>,
): string[] {
  const problems: string[] = [];
  if (!plans.has(s.planId))
    problems.push(rawPlans.has(s.planId) ? `plan ${s.planId} is quarantined` : `unknown plan ${s.planId}`);
  if (!(s.currentPeriodStart instanceof Date) || Number.isNaN(s.currentPeriodStart.getTime()))
    problems.push('currentPeriodStart is not a date');
  if (s.graceUntil !== null && (!(s.graceUntil instanceof Date) || Number.isNaN(s.graceUntil.getTime())))
    problems.push('graceUntil is not a date');
  return problems;
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
