import { Counter, Gauge, Registry } from 'prom-client';
import { CellCounter, CellHistogram } from './metric-cells.ts';

/**
 * Every gateway metric, on its own registry (no global state: tests build several apps). The
 * ones the request path touches on every request, or on every refusal under load, are cell
 * metrics (metric-cells.ts: one addition per increment); the rest are prom-client's own.
 */
export function createMetrics(registry: Registry = new Registry()) {
  const requests = new CellCounter(
    'tollgate_gateway_requests_total',
    'Requests answered, by route (`<api>:<route>`, or `none` when no route matched) and status class',
    ['route', 'status'],
    registry,
  );
  const latency = new CellHistogram(
    'tollgate_gateway_request_duration_seconds',
    'Time from request start to response end, by route',
    ['route'],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registry,
  );
  const limiterDecisions = new CellCounter(
    'tollgate_gateway_limiter_decisions_total',
    'Limiter decisions: allowed, quota, rate, fail_open (admitted unchecked by Redis), fail_closed',
    ['decision'],
    registry,
  );
  const limiterTimeouts = new CellCounter(
    'tollgate_gateway_limiter_timeouts_total',
    'Limiter calls that timed out (REDIS_TIMEOUT_MS), by what the request got: 503 (fail_closed plan) or fail_open (decided by the local fallback limiter)',
    ['outcome'],
    registry,
  );
  const shed = new CellCounter(
    'tollgate_gateway_shed_total',
    "Requests refused with 503 OVERLOADED by the gateway's own load shedding (enforcement/load-shed.ts), by rule: in_flight, loop_lag",
    ['reason'],
    registry,
  );
  const refundErrors = new Counter({
    name: 'tollgate_gateway_refund_errors_total',
    help: 'Quota refunds that failed (the unit stays counted: the consumer was charged for a request that did not count)',
    registers: [registry],
  });
  const redisErrors = new Counter({
    name: 'tollgate_gateway_redis_errors_total',
    help: 'Limiter calls that failed (Redis unreachable, timed out or erroring)',
    registers: [registry],
  });
  const failOpenAdmitted = new Counter({
    name: 'tollgate_gateway_fail_open_admitted_total',
    help: 'Requests admitted without Redis under a fail_open plan (decided by the local fallback limiter)',
    registers: [registry],
  });
  const unauthenticated = new CellCounter(
    'tollgate_gateway_unauthenticated_total',
    'Requests refused with 401 (no usage event: there is no consumer to bill), by reason',
    ['reason'],
    registry,
  );
  const anonymous = new CellCounter(
    'tollgate_gateway_anonymous_requests_total',
    'Requests without an identified consumer (public routes, unmatched paths): no usage event',
    [],
    registry,
  );
  const usageEvents = new CellCounter(
    'tollgate_gateway_usage_events_total',
    'Usage events handed to the sink',
    ['billable'],
    registry,
  );
  const sinkErrors = new Counter({
    name: 'tollgate_gateway_sink_publish_errors_total',
    help: 'Usage events the sink refused synchronously (should stay 0)',
    registers: [registry],
  });
  const keyCache = new CellCounter(
    'tollgate_gateway_key_cache_total',
    'API key cache lookups: hit, negative_hit, miss',
    ['result'],
    registry,
  );
  const keyLookupErrors = new Counter({
    name: 'tollgate_gateway_key_lookup_errors_total',
    help: 'API key lookups that failed (Postgres unreachable)',
    registers: [registry],
  });
  const keyLookups = new Counter({
    name: 'tollgate_gateway_key_lookups_total',
    help: 'API key lookups run against Postgres, by result: found, not_found, error',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const keyLookupsRefused = new Counter({
    name: 'tollgate_gateway_key_lookups_refused_total',
    help: 'API key lookups not run: budget (the client address spent its unknown-key budget: 429), overload (lookup queue full: stale entry or 503)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const admissionRefused = new CellCounter(
    'tollgate_gateway_admission_refused_total',
    'Requests refused by admission control (never billable): address, consumer (concurrency bounds), upstream_share (a consumer over its share of a busy upstream), upstream_busy (anonymous traffic over its share)',
    ['reason'],
    registry,
  );
  const slowBodies = new Counter({
    name: 'tollgate_gateway_slow_bodies_total',
    help: 'Request bodies cut off below the minimum body rate (408, upstream request aborted)',
    registers: [registry],
  });
  const jwksFetches = new Counter({
    name: 'tollgate_gateway_jwks_fetches_total',
    help: 'JWKS fetches',
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: 'tollgate_gateway_upstream_errors_total',
    help: 'Upstream failures by kind: connect, timeout, reset, no_target, forbidden (502 UPSTREAM_FORBIDDEN)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const upstreamForbidden = new Counter({
    name: 'tollgate_gateway_upstream_forbidden_total',
    help: 'Upstream connections refused by the egress policy (GATEWAY_UPSTREAM_ALLOW), by reason: internal (a private, loopback, link-local or reserved address), self (a listener of this gateway)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const upstreamRetries = new Counter({
    name: 'tollgate_gateway_upstream_retries_total',
    help: 'Idempotent requests retried on another target after a connection error',
    registers: [registry],
  });
  const targetState = new Counter({
    name: 'tollgate_gateway_target_state_changes_total',
    help: 'Upstream target health and breaker transitions',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  const snapshotsApplied = new Counter({
    name: 'tollgate_gateway_config_snapshots_applied_total',
    help: 'Control-plane snapshots loaded and applied',
    registers: [registry],
  });
  const snapshotsRefused = new Counter({
    name: 'tollgate_gateway_config_snapshots_refused_total',
    help: 'Control-plane snapshots that could not be compiled at all (a defect: bad rows are quarantined instead)',
    registers: [registry],
  });
  const snapshotLoadErrors = new Counter({
    name: 'tollgate_gateway_config_load_errors_total',
    help: 'Control-plane loads that failed (Postgres unreachable)',
    registers: [registry],
  });
  const configQuarantined = new Counter({
    name: 'tollgate_gateway_config_quarantined_total',
    help: 'Configuration rows put in quarantine (or whose problems changed), by kind: api, plan, subscription',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const configQuarantinedRows = new Gauge({
    name: 'tollgate_gateway_config_quarantined_rows',
    help: 'Configuration rows in quarantine in the active snapshot, by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const configVersion = new Gauge({
    name: 'tollgate_gateway_config_version',
    help: 'Configuration version (config_versions) of the active snapshot',
    registers: [registry],
  });
  const configRollbacks = new Counter({
    name: 'tollgate_gateway_config_rollbacks_total',
    help: 'Automatic rollbacks of configuration changes whose upstreams failed their health checks, by result: restored, superseded (done elsewhere or changed since), unchanged, not_found, failed',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const snapshotRoutes = new Gauge({
    name: 'tollgate_gateway_config_routes',
    help: 'Routes in the active snapshot',
    registers: [registry],
  });
  return {
    registry,
    requests,
    latency,
    limiterDecisions,
    limiterTimeouts,
    shed,
    refundErrors,
    redisErrors,
    failOpenAdmitted,
    unauthenticated,
    anonymous,
    usageEvents,
    sinkErrors,
    keyCache,
    keyLookupErrors,
    keyLookups,
    keyLookupsRefused,
    admissionRefused,
    slowBodies,
    jwksFetches,
    upstreamErrors,
    upstreamForbidden,
    upstreamRetries,
    targetState,
    snapshotsApplied,
    snapshotsRefused,
    snapshotLoadErrors,
    snapshotRoutes,
    configQuarantined,
    configQuarantinedRows,
    configVersion,
    configRollbacks,
  };
}
export type GatewayMetrics = ReturnType<typeof createMetrics>;
