import type { Plan } from '@tollgate/core';

/** Control-plane rows as loaded from Postgres (plain data, before validation and compilation). */
export interface RawTarget {
  id: string;
  url: string;
  weight: number;
  healthCheckPath: string | null;
}

export interface RawRoute {
  id: string;
  name: string;
  methods: string[];
  path: string;
  cost: number;
  timeoutMs: number;
  public: boolean;
  /** prefix: this path and everything below it (segment boundaries); exact: this path only. */
  pathMatch: 'prefix' | 'exact';
}

export interface RawApi {
  id: string;
  slug: string;
  hosts: string[];
  basePath: string;
  stripBasePath: boolean;
  upstreamHost: string | null;
  loadBalancing: 'round_robin' | 'least_outstanding';
  maxBodyBytes: number | null;
  targets: RawTarget[];
  routes: RawRoute[];
}

export interface RawPlan extends Plan {
  entitlements: { apiId: string; routeId: string | null }[];
}

export interface RawConsumer {
  id: string;
  status: 'active' | 'suspended';
}

export interface RawSubscription {
  id: string;
  consumerId: string;
  planId: string;
  status: 'incomplete' | 'trialing' | 'active' | 'past_due' | 'suspended' | 'canceled';
  currentPeriodStart: Date;
  currentPeriodEnd: Date;
  /** What quota periods are aligned to; null on old rows (their period start is the anchor). */
  billingAnchor: Date | null;
  graceUntil: Date | null;
}

export interface RawSnapshot {
  /** The configuration version (config_versions) the provider rows belong to; null when the source has none. */
  version: number | null;
  apis: RawApi[];
  plans: RawPlan[];
  consumers: RawConsumer[];
  subscriptions: RawSubscription[];
}

/** An API key row, looked up by hash on demand (never preloaded). */
export interface KeyRecord {
  id: string;
  consumerId: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export type ConfigTable =
  | 'apis'
  | 'routes'
  | 'upstream_targets'
  | 'plans'
  | 'plan_entitlements'
  | 'subscriptions'
  | 'consumers'
  | 'api_keys';

/** Where control-plane data comes from: Postgres in production, a fixture in unit tests. */
export interface ControlPlaneSource {
  loadSnapshot(): Promise<RawSnapshot>;
  findKeyByHash(hash: string): Promise<KeyRecord | null>;
  /**
   * Follows changes. `onChange(table)` per notification; `onReconnect()` after the listening
   * connection came back (notifications may have been missed). Returns a stop function.
   */
  listen(handlers: {
    onChange(table: string): void;
    onReconnect(): void;
    onError(err: unknown): void;
  }): Promise<() => Promise<void>>;
  /**
   * Restores some APIs to their content in an earlier version, only while they are unchanged
   * since `ifUnchangedSince` (the automatic rollback; several gateways may ask at once).
   * Sources without versions do not implement it.
   */
  restoreApis?(request: RestoreApisRequest): Promise<RestoreApisOutcome>;
  /**
   * Earlier versions of these rows from the configuration history, newest first (several per id
   * possible): where a quarantined row's last good version comes from after a restart.
   */
  loadRowHistory?(ids: { apis: string[]; plans: string[] }): Promise<{ apis: RawApi[]; plans: RawPlan[] }>;
  close(): Promise<void>;
}

export interface RestoreApisRequest {
  version: number;
  apiIds: string[];
  ifUnchangedSince: number;
  /** This gateway instance, for the version row and the audit log. */
  actorId: string;
  reason: Record<string, unknown>;
}

export type RestoreApisOutcome = 'restored' | 'superseded' | 'unchanged' | 'not_found';
