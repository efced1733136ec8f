import { type Plan, PlanSchema } from '../plan.ts';
import { ApiRowSchema, type ValidApi } from './api-config.ts';
import { type ConfigIssue, type ConfigProblem, rowIssues } from './config-problem.ts';
import { RouteClaims } from './route-claims.ts';

/**
 * The provider configuration as stored (plain rows, not yet validated): what an admin edits and
 * what the gateway serves. Consumers, subscriptions and keys are not part of it.
 */
export interface RouteRow {
  id: string;
  name: string;
  methods: string[];
  path: string;
  cost: number;
  timeoutMs: number;
  public: boolean;
  pathMatch: string;
}

export interface UpstreamTargetRow {
  id: string;
  url: string;
  weight: number;
  healthCheckPath: string | null;
}

export interface ApiRow {
  id: string;
  slug: string;
  hosts: string[];
  basePath: string;
  stripBasePath: boolean;
  upstreamHost: string | null;
  loadBalancing: string;
  maxBodyBytes: number | null;
  targets: UpstreamTargetRow[];
  routes: RouteRow[];
}

export interface EntitlementRow {
  apiId: string;
  /** null: every route of the API. */
  routeId: string | null;
}

export type PlanRow = { [K in keyof Plan]: unknown } & {
  id: string;
  slug: string;
  entitlements: EntitlementRow[];
};

export interface ProviderConfig {
  apis: ApiRow[];
  plans: PlanRow[];
}

export interface ValidPlan extends Plan {
  /** Entitlements to APIs and routes that are served (those of quarantined ones are left out). */
  entitlements: EntitlementRow[];
}

export interface ValidatedConfig {
  /** What can be served, in input order: valid rows, and last good versions of invalid ones. */
  apis: ValidApi[];
  plans: ValidPlan[];
  /** Rows that are not served as they are. */
  problems: ConfigProblem[];
}

export interface ValidateOptions {
  /** The last good version of a row (the gateway's previous snapshot), tried when the current one is refused. */
  lastGoodApi?(id: string): ApiRow | undefined;
  lastGoodPlan?(id: string): PlanRow | undefined;
  /**
   * The validated form of this very row from an earlier validation, if the caller kept it: the
   * schemas are skipped for it (overlaps are still checked). The gateway reloads often and most
   * rows have not changed.
   */
  validatedApi?(row: ApiRow): ValidApi | undefined;
}

function validateApi(
  row: ApiRow,
  claims: RouteClaims,
  known: ValidApi | undefined,
): { api: ValidApi } | { issues: ConfigIssue[] } {
  if (known !== undefined) {
    const overlaps = claims.tryClaim(known);
    return overlaps.length > 0 ? { issues: overlaps } : { api: known };
  }
  const parsed = ApiRowSchema.safeParse(row);
  if (!parsed.success) {
    const ids = {
      routes: (row.routes ?? []).map((r) => r?.id),
      targets: (row.targets ?? []).map((t) => t?.id),
    };
    return { issues: rowIssues(parsed.error, ids) };
  }
  const overlaps = claims.tryClaim(parsed.data);
  return overlaps.length > 0 ? { issues: overlaps } : { api: parsed.data };
}

function validatePlan(
  row: PlanRow,
  known: Map<string, ApiRow>,
  served: Map<string, ValidApi>,
  /** A last good version: entitlements to APIs and routes deleted since are dropped, not refused. */
  lenient: boolean,
): { plan: ValidPlan } | { issues: ConfigIssue[] } {
  const { entitlements, ...fields } = row;
  const parsed = PlanSchema.safeParse(fields);
  const issues: ConfigIssue[] = parsed.success ? [] : rowIssues(parsed.error);
  const kept: EntitlementRow[] = [];
  (entitlements ?? []).forEach((e, i) => {
    const api = known.get(e.apiId);
    if (api === undefined) {
      if (lenient) return;
      issues.push({ path: ['entitlements', i, 'apiId'], message: `unknown API ${e.apiId}` });
      return;
    }
    if (e.routeId !== null && !api.routes.some((r) => r.id === e.routeId)) {
      if (lenient) return;
      issues.push({ path: ['entitlements', i, 'routeId'], message: `not a route of API "${api.slug}"` });
      return;
    }
    const servedApi = served.get(e.apiId);
    // A quarantined API (or a route its last good version lacks) is not served: nothing to grant.
    if (servedApi === undefined) return;
    if (e.routeId !== null && !servedApi.routes.some((r) => r.id === e.routeId)) return;
    kept.push({ apiId: e.apiId, routeId: e.routeId });
  });
  if (issues.length > 0 || !parsed.success) return { issues };
  return { plan: { ...parsed.data, entitlements: kept } };
}

/**
 * Validates the provider configuration row by row: each API (with its routes and targets)
 * against the schemas, then against the routes of the APIs accepted before it (overlaps), and
 * each plan (PlanSchema, entitlements to existing APIs and their routes). A refused row is
 * reported and, when the caller knows its last good version, that version is tried instead;
 * every other row is unaffected. Earlier rows win overlaps: the gateway lists the rows it
 * already serves first.
 */
export function validateProviderConfig(config: ProviderConfig, opts: ValidateOptions = {}): ValidatedConfig {
  const claims = new RouteClaims();
  const problems: ConfigProblem[] = [];
  const apis: ValidApi[] = [];
  const known = new Map(config.apis.map((a) => [a.id, a]));
  const served = new Map<string, ValidApi>();

  for (const row of config.apis) {
    const result = validateApi(row, claims, opts.validatedApi?.(row));
    if ('api' in result) {
      apis.push(result.api);
      served.set(row.id, result.api);
      continue;
    }
    const previous = opts.lastGoodApi?.(row.id);
    const fallback =
      previous === undefined ? null : validateApi(previous, claims, opts.validatedApi?.(previous));
    const usable = fallback !== null && 'api' in fallback ? fallback.api : null;
    problems.push({
      kind: 'api',
      id: row.id,
      name: String(row.slug),
      issues: result.issues,
      fallback: usable !== null,
    });
    if (usable !== null) {
      apis.push(usable);
      served.set(row.id, usable);
    }
  }

  const plans: ValidPlan[] = [];
  for (const row of config.plans) {
    const result = validatePlan(row, known, served, false);
    if ('plan' in result) {
      plans.push(result.plan);
      continue;
    }
    const previous = opts.lastGoodPlan?.(row.id);
    const fallback = previous === undefined ? null : validatePlan(previous, known, served, true);
    const usable = fallback !== null && 'plan' in fallback ? fallback.plan : null;
    problems.push({
      kind: 'plan',
      id: row.id,
      name: String(row.slug),
      issues: result.issues,
      fallback: usable !== null,
    });
    if (usable !== null) plans.push(usable);
  }
  return { apis, plans, problems };
}
