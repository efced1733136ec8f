import { z } from '@tollgate/config';
import type { Prisma, PrismaClient } from './generated/prisma/client.ts';

/**
 * The owner of config_versions and of the provider configuration's stored shape. A trigger
 * (migrations/postgres/*_config_versions.sql) records every committed change as a version whose
 * content is tollgate_provider_config(); this module reads versions and restores one, for the
 * admin API's rollback and the gateway's automatic rollback alike.
 */

type Db = PrismaClient | Prisma.TransactionClient;

/** The advisory lock that orders configuration writes and version records (also in the trigger). */
export const CONFIG_LOCK_KEY = 7_420_116_010;

// The column types of the tables, nothing more: a row the validator refuses must still load.
const ContentRouteSchema = z.object({
  id: z.string(),
  name: z.string(),
  methods: z.array(z.string()),
  path: z.string(),
  cost: z.number(),
  timeoutMs: z.number(),
  public: z.boolean(),
  pathMatch: z.enum(['prefix', 'exact']),
});
const ContentTargetSchema = z.object({
  id: z.string(),
  url: z.string(),
  weight: z.number(),
  healthCheckPath: z.string().nullable(),
});
const ContentApiSchema = z.object({
  id: z.string(),
  name: z.string(),
  slug: z.string(),
  hosts: z.array(z.string()),
  basePath: z.string(),
  stripBasePath: z.boolean(),
  upstreamHost: z.string().nullable(),
  loadBalancing: z.enum(['round_robin', 'least_outstanding']),
  maxBodyBytes: z.number().nullable(),
  targets: z.array(ContentTargetSchema),
  routes: z.array(ContentRouteSchema),
});
const ContentEntitlementSchema = z.object({
  id: z.string(),
  apiId: z.string(),
  routeId: z.string().nullable(),
});
const ContentPlanSchema = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  quota: z.number().nullable(),
  quotaPeriod: z.enum(['day', 'month']),
  rateLimitPerSecond: z.number().nullable(),
  burst: z.number().nullable(),
  limitScope: z.enum(['consumer', 'key']),
  priceCents: z.number(),
  currency: z.string(),
  capMode: z.enum(['hard', 'soft']),
  overageUnitPriceDecimal: z.string().nullable(),
  overageCeiling: z.number().nullable(),
  trialDays: z.number(),
  visibility: z.enum(['public', 'private', 'archived']),
  countUpstreamErrors: z.boolean(),
  redisFailurePolicy: z.enum(['fail_open', 'fail_closed']),
  entitlements: z.array(ContentEntitlementSchema),
});
export const ProviderConfigContentSchema = z.object({
  apis: z.array(ContentApiSchema),
  plans: z.array(ContentPlanSchema),
});
/** The provider configuration as stored: rows in id order, not validated (see core's validateProviderConfig). */
export type ProviderConfigContent = z.infer<typeof ProviderConfigContentSchema>;
export type ContentApi = ProviderConfigContent['apis'][number];
export type ContentPlan = ProviderConfigContent['plans'][number];

/** The configuration as it is in the tables now (inside `db`'s transaction when it is one). */
export async function loadProviderConfig(db: Db): Promise<ProviderConfigContent> {
  const rows = await db.$queryRaw<{ config: unknown }[]>`SELECT tollgate_provider_config() AS config`;
  return ProviderConfigContentSchema.parse(rows[0]?.config);
}

/** Takes the configuration lock until the end of the transaction `tx`. */
export async function lockConfig(tx: Prisma.TransactionClient): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${CONFIG_LOCK_KEY}::bigint)`;
}

/** Names who makes this transaction's change (and what it restores) in the version it records. */
export async function describeConfigChange(
  tx: Prisma.TransactionClient,
  change: { actor: string; restoredFrom?: number },
): Promise<void> {
  await tx.$executeRaw`SELECT set_config('tollgate.config_actor', ${change.actor}, true), set_config('tollgate.config_restored_from', ${change.restoredFrom === undefined ? '' : String(change.restoredFrom)}, true)`;
}

/**
 * Records this transaction's version now instead of at commit (SET CONSTRAINTS ... IMMEDIATE)
 * and returns the current version number. Call after the transaction's last configuration write:
 * later writes in it would not be recorded.
 */
export async function recordConfigVersionNow(tx: Prisma.TransactionClient): Promise<number> {
  await tx.$executeRawUnsafe('SET CONSTRAINTS ALL IMMEDIATE');
  return currentConfigVersion(tx);
}

export interface ConfigVersionSummary {
  version: number;
  createdAt: Date;
  actor: string | null;
  restoredFrom: number | null;
  apis: number;
  routes: number;
  targets: number;
  plans: number;
}

/** The latest version number (the migration records version 1, so there always is one). */
export async function currentConfigVersion(db: Db): Promise<number> {
  const rows = await db.$queryRaw<
    { version: bigint | null }[]
  >`SELECT max(version) AS version FROM config_versions`;
  return Number(rows[0]?.version ?? 0);
}

/** Versions, newest first. */
export async function listConfigVersions(
  db: Db,
  opts: { limit: number; before?: number },
): Promise<ConfigVersionSummary[]> {
  const before = opts.before ?? Number.MAX_SAFE_INTEGER;
  const rows = await db.$queryRaw<
    {
      version: bigint;
      created_at: Date;
      actor: string | null;
      restored_from: bigint | null;
      apis: number;
      routes: number;
      targets: number;
      plans: number;
    }[]
  >`SELECT version, created_at, actor, restored_from,
      jsonb_array_length(content->'apis') AS apis,
      (SELECT count(*)::int FROM jsonb_array_elements(content->'apis') a, jsonb_array_elements(a->'routes')) AS routes,
      (SELECT count(*)::int FROM jsonb_array_elements(content->'apis') a, jsonb_array_elements(a->'targets')) AS targets,
      jsonb_array_length(content->'plans') AS plans
    FROM config_versions WHERE version < ${before} ORDER BY version DESC LIMIT ${opts.limit}`;
  return rows.map((r) => ({
    version: Number(r.version),
    createdAt: r.created_at,
    actor: r.actor,
    restoredFrom: r.restored_from === null ? null : Number(r.restored_from),
    apis: r.apis,
    routes: r.routes,
    targets: r.targets,
    plans: r.plans,
  }));
}

export async function getConfigVersion(
  db: Db,
  version: number,
): Promise<(ConfigVersionSummary & { content: ProviderConfigContent }) | null> {
  const row = await db.configVersion.findUnique({ where: { version: BigInt(version) } });
  if (row === null) return null;
  const content = ProviderConfigContentSchema.parse(row.content);
  return {
    version: Number(row.version),
    createdAt: row.createdAt,
    actor: row.actor,
    restoredFrom: row.restoredFrom === null ? null : Number(row.restoredFrom),
    apis: content.apis.length,
    routes: content.apis.reduce((n, a) => n + a.routes.length, 0),
    targets: content.apis.reduce((n, a) => n + a.targets.length, 0),
    plans: content.plans.length,
    content,
  };
}

/** What a restore may touch: everything, or some APIs with their routes, targets and the entitlements to them. */
export type ConfigScope = { all: true } | { apiIds: string[] };

/** The part of a configuration inside a scope, comparable with JSON.stringify (rows are in id order). */
export function configSection(content: ProviderConfigContent, scope: ConfigScope): unknown {
  if ('all' in scope) return content;
  const ids = new Set(scope.apiIds);
  return {
    apis: content.apis.filter((a) => ids.has(a.id)),
    entitlements: content.plans.flatMap((p) =>
      p.entitlements.filter((e) => ids.has(e.apiId)).map((e) => ({ planId: p.id, ...e })),
    ),
  };
}

const apiFields = (a: ContentApi) => ({
  name: a.name,
  slug: a.slug,
  hosts: a.hosts,
  basePath: a.basePath,
  stripBasePath: a.stripBasePath,
  upstreamHost: a.upstreamHost,
  loadBalancing: a.loadBalancing,
  maxBodyBytes: a.maxBodyBytes,
});
const planFields = (p: ContentPlan) => {
  const { entitlements: _e, id: _id, ...fields } = p;
  return fields;
};
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export interface ApplyResult {
  /** Rows created, updated or deleted. */
  changes: number;
  /** Plans the target configuration does not have, kept because subscriptions refer to them. */
  keptPlans: string[];
}

/**
 * Makes the tables equal `target` inside `scope` (ids are kept, so entitlements, subscriptions
 * and the gateway's targets stay attached). Rows already equal are not written (a plan's
 * updated_at is billing's catalog version). A plan with subscriptions is never deleted: it is
 * kept and reported. Call inside a transaction holding the config lock.
 */
export async function applyConfigContent(
  tx: Prisma.TransactionClient,
  target: ProviderConfigContent,
  scope: ConfigScope,
): Promise<ApplyResult> {
  const current = await loadProviderConfig(tx);
  const inScope = 'all' in scope ? () => true : (id: string) => scope.apiIds.includes(id);
  let changes = 0;

  // APIs: delete (cascading to routes, targets, entitlements), then park changed slugs, then write.
  const wantApis = target.apis.filter((a) => inScope(a.id));
  const haveApis = new Map(current.apis.filter((a) => inScope(a.id)).map((a) => [a.id, a]));
  const wantApiIds = new Set(wantApis.map((a) => a.id));
  const dropApis = [...haveApis.keys()].filter((id) => !wantApiIds.has(id));
  if (dropApis.length > 0) changes += (await tx.api.deleteMany({ where: { id: { in: dropApis } } })).count;
  for (const a of wantApis) {
    const have = haveApis.get(a.id);
    if (have !== undefined && have.slug !== a.slug)
      await tx.api.update({ where: { id: a.id }, data: { slug: `restoring-${a.id}` } });
  }
  for (const a of wantApis) {
    const have = haveApis.get(a.id);
    if (have === undefined) {
      await tx.api.create({ data: { id: a.id, ...apiFields(a) } });
      changes++;
    } else if (!same(apiFields(have), apiFields(a))) {
      await tx.api.update({ where: { id: a.id }, data: apiFields(a) });
      changes++;
    }
  }

  // Routes and targets of the APIs in scope.
  const haveRoutes = new Map(
    current.apis
      .filter((a) => inScope(a.id))
      .flatMap((a) => a.routes.map((r) => [r.id, { ...r, apiId: a.id }] as const)),
  );
  const haveTargets = new Map(
    current.apis
      .filter((a) => inScope(a.id))
      .flatMap((a) => a.targets.map((t) => [t.id, { ...t, apiId: a.id }] as const)),
  );
  const wantRoutes = wantApis.flatMap((a) => a.routes.map((r) => ({ ...r, apiId: a.id })));
  const wantTargets = wantApis.flatMap((a) => a.targets.map((t) => ({ ...t, apiId: a.id })));
  const wantRouteIds = new Set(wantRoutes.map((r) => r.id));
  const wantTargetIds = new Set(wantTargets.map((t) => t.id));
  const dropRoutes = [...haveRoutes.keys()].filter((id) => !wantRouteIds.has(id));
  const dropTargets = [...haveTargets.keys()].filter((id) => !wantTargetIds.has(id));
  if (dropRoutes.length > 0)
    changes += (await tx.route.deleteMany({ where: { id: { in: dropRoutes } } })).count;
  if (dropTargets.length > 0)
    changes += (await tx.upstreamTarget.deleteMany({ where: { id: { in: dropTargets } } })).count;
  for (const r of wantRoutes) {
    const { id, ...data } = r;
    const have = haveRoutes.get(id);
    if (have === undefined) {
      // Outside the scope a route with this id may live under another API: move it back.
      await tx.route.upsert({ where: { id }, create: r, update: data });
      changes++;
    } else if (!same({ ...have, id: undefined }, { ...data, id: undefined })) {
      await tx.route.update({ where: { id }, data });
      changes++;
    }
  }
  for (const t of wantTargets) {
    const { id, ...data } = t;
    const have = haveTargets.get(id);
    if (have === undefined) {
      await tx.upstreamTarget.upsert({ where: { id }, create: t, update: data });
      changes++;
    } else if (!same({ ...have, id: undefined }, { ...data, id: undefined })) {
      await tx.upstreamTarget.update({ where: { id }, data });
      changes++;
    }
  }

  // Plans (whole-configuration restores only).
  const keptPlans: string[] = [];
  const existingPlans = new Set(current.plans.map((p) => p.id));
  if ('all' in scope) {
    const wantPlanIds = new Set(target.plans.map((p) => p.id));
    for (const p of current.plans) {
      if (wantPlanIds.has(p.id)) continue;
      if ((await tx.subscription.count({ where: { planId: p.id } })) > 0) {
        keptPlans.push(p.slug);
        continue;
      }
      await tx.plan.delete({ where: { id: p.id } });
      existingPlans.delete(p.id);
      changes++;
    }
    const havePlans = new Map(current.plans.map((p) => [p.id, p]));
    for (const p of target.plans) {
      const have = havePlans.get(p.id);
      if (have !== undefined && have.slug !== p.slug)
        await tx.plan.update({ where: { id: p.id }, data: { slug: `restoring-${p.id}` } });
    }
    for (const p of target.plans) {
      const have = havePlans.get(p.id);
      if (have === undefined) {
        await tx.plan.create({ data: { id: p.id, ...planFields(p) } });
        existingPlans.add(p.id);
        changes++;
      } else if (!same(planFields(have), planFields(p))) {
        await tx.plan.update({ where: { id: p.id }, data: planFields(p) });
        changes++;
      }
    }
  }

  // Entitlements: of every plan (whole configuration) or to the APIs in scope.
  const entitlementInScope = (planId: string, apiId: string) =>
    'all' in scope
      ? !keptPlans.includes(current.plans.find((p) => p.id === planId)?.slug ?? '')
      : inScope(apiId);
  const haveEntitlements = current.plans.flatMap((p) =>
    p.entitlements.filter((e) => entitlementInScope(p.id, e.apiId)).map((e) => ({ ...e, planId: p.id })),
  );
  const wantEntitlements = target.plans
    .filter((p) => existingPlans.has(p.id))
    .flatMap((p) =>
      p.entitlements.filter((e) => entitlementInScope(p.id, e.apiId)).map((e) => ({ ...e, planId: p.id })),
    );
  const wantEntitlementIds = new Set(wantEntitlements.map((e) => e.id));
  const dropEntitlements = haveEntitlements.filter((e) => !wantEntitlementIds.has(e.id)).map((e) => e.id);
  if (dropEntitlements.length > 0)
    changes += (await tx.planEntitlement.deleteMany({ where: { id: { in: dropEntitlements } } })).count;
  const haveEntitlementIds = new Map(haveEntitlements.map((e) => [e.id, e]));
  for (const e of wantEntitlements) {
    const have = haveEntitlementIds.get(e.id);
    if (have !== undefined && same(have, e)) continue;
    const { id, ...data } = e;
    await tx.planEntitlement.upsert({ where: { id }, create: e, update: data });
    changes++;
  }
  return { changes, keptPlans };
}

export type RestoreResult =
  | { status: 'restored'; version: number; restoredFrom: number; keptPlans: string[] }
  | { status: 'unchanged'; version: number }
  | { status: 'superseded' }
  | { status: 'not_found' };

export interface RestoreOptions {
  /** The version whose content to restore. */
  version: number;
  scope: ConfigScope;
  /**
   * Restore only when the scope's content is still what it was in this version (several
   * gateways may detect the same failure: the first restores, the others find it superseded).
   */
  ifUnchangedSince?: number;
  /** For the version row and the audit log, e.g. `gateway/host-123`. */
  actor: { kind: string; id: string | null };
  /** Audit action, e.g. `config.auto_rollback`. */
  action: string;
  /** Why, for the audit row. */
  reason?: Record<string, unknown>;
}

/**
 * Restores (part of) an earlier version in one transaction: config lock, the optional
 * unchanged-since check, the writes, the version row naming the actor and the version
 * restored, and an audit_log row. The gateway's automatic rollback calls it; the admin API
 * composes the same steps with its validation (apps/portal rollback-config-version.ts).
 */
export async function restoreConfigVersion(
  prisma: PrismaClient,
  opts: RestoreOptions,
): Promise<RestoreResult> {
  return prisma.$transaction(async (tx) => {
    await lockConfig(tx);
    const source = await getConfigVersion(tx, opts.version);
    if (source === null) return { status: 'not_found' } as const;
    const before = await currentConfigVersion(tx);
    if (opts.ifUnchangedSince !== undefined) {
      const since = await getConfigVersion(tx, opts.ifUnchangedSince);
      const now = await loadProviderConfig(tx);
      if (since === null || !same(configSection(now, opts.scope), configSection(since.content, opts.scope)))
        return { status: 'superseded' } as const;
    }
    await describeConfigChange(tx, {
      actor: `${opts.actor.kind}:${opts.actor.id ?? ''}`,
      restoredFrom: opts.version,
    });
    const applied = await applyConfigContent(tx, source.content, opts.scope);
    const version = await recordConfigVersionNow(tx);
    if (version === before) return { status: 'unchanged', version } as const;
    await tx.auditLog.create({
      data: {
        actorId: opts.actor.id,
        actorKind: opts.actor.kind,
        action: opts.action,
        targetType: 'config_version',
        targetId: String(opts.version),
        before: { version: before },
        after: {
          restoredFrom: opts.version,
          scope: 'all' in opts.scope ? 'all' : { apiIds: opts.scope.apiIds },
          keptPlans: applied.keptPlans,
          ...(opts.reason === undefined ? {} : { reason: opts.reason as Prisma.InputJsonObject }),
        },
      },
    });
    return { status: 'restored', version, restoredFrom: opts.version, keptPlans: applied.keptPlans } as const;
  });
}
