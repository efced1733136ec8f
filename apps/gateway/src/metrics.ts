import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Every gateway metric, on its own registry (no global state: tests build several apps). */
export function createMetrics(registry: Registry = new Registry()) {
  const requests = new Counter({
    name: 'tollgate_gateway_requests_total',
    help: 'Requests answered, by route (`<api>:<route>`, or `none` when no route matched) and status class',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'tollgate_gateway_request_duration_seconds',
    help: 'Time from request start to response end, by route',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const limiterDecisions = new Counter({
    name: 'tollgate_gateway_limiter_decisions_total',
    help: 'Limiter decisions: allowed, quota, rate, fail_open (admitted unchecked by Redis), fail_closed',
    labelNames: ['decision'] as const,
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
  const unauthenticated = new Counter({
    name: 'tollgate_gateway_unauthenticated_total',
    help: 'Requests refused with 401 (no usage event: there is no consumer to bill), by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const anonymous = new Counter({
    name: 'tollgate_gateway_anonymous_requests_total',
    help: 'Requests without an identified consumer (public routes, unmatched paths): no usage event',
    registers: [registry],
  });
  const usageEvents = new Counter({
    name: 'tollgate_gateway_usage_events_total',
    help: 'Usage events handed to the sink',
    labelNames: ['billable'] as const,
    registers: [registry],
  });
  const sinkErrors = new Counter({
    name: 'tollgate_gateway_sink_publish_errors_total',
    help: 'Usage events the sink refused synchronously (should stay 0)',
    registers: [registry],
  });
  const keyCache = new Counter({
    name: 'tollgate_gateway_key_cache_total',
    help: 'API key cache lookups: hit, negative_hit, miss',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const keyLookupErrors = new Counter({
    name: 'tollgate_gateway_key_lookup_errors_total',
    help: 'API key lookups that failed (Postgres unreachable)',
    registers: [registry],
  });
  const jwksFetches = new Counter({
    name: 'tollgate_gateway_jwks_fetches_total',
    help: 'JWKS fetches',
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: 'tollgate_gateway_upstream_errors_total',
    help: 'Upstream failures by kind: connect, timeout, reset, no_target',
    labelNames: ['kind'] as const,
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
    help: 'Control-plane snapshots refused by validation (the last good one stays)',
    registers: [registry],
  });
  const snapshotLoadErrors = new Counter({
    name: 'tollgate_gateway_config_load_errors_total',
    help: 'Control-plane loads that failed (Postgres unreachable)',
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
    redisErrors,
    failOpenAdmitted,
    unauthenticated,
    anonymous,
    usageEvents,
    sinkErrors,
    keyCache,
    keyLookupErrors,
    jwksFetches,
    upstreamErrors,
    upstreamRetries,
    targetState,
    snapshotsApplied,
    snapshotsRefused,
    snapshotLoadErrors,
    snapshotRoutes,
  };
}
export type GatewayMetrics = ReturnType<typeof createMetrics>;
