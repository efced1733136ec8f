import { mkdirSync } from 'node:fs';
import { parseTrustedProxies } from '@tollgate/config';
import { MemoryLimiter, USAGE_TOPIC_V2 } from '@tollgate/core';
import { createPrisma } from '@tollgate/db';
import { createKafka, ensureTopics, KafkaUsageSink } from '@tollgate/kafka';
import { createRedis, limiterClientTimeoutMs } from '@tollgate/redis';
import type { JSONWebKeySet } from 'jose';
import pino from 'pino';
import { AccessLog } from './access-log.ts';
import { buildAdminApp, buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';
import { ConfigProbation } from './control-plane/config-probation.ts';
import { ControlPlane } from './control-plane/control-plane.ts';
import { PostgresControlPlaneSource } from './control-plane/postgres-source.ts';
import { buildLimiter } from './enforcement/build-limiter.ts';
import { registerLeaseMetrics } from './enforcement/lease-metrics.ts';
import { registerLimiterMetrics } from './enforcement/limiter-metrics.ts';
import { ApiKeyResolver } from './identity/resolve-api-key.ts';
import { JwtVerifier } from './identity/verify-jwt.ts';
import { registerLoopDelayMetrics } from './loop-delay-metrics.ts';
import { createMetrics } from './metrics.ts';
import { EgressPolicy } from './proxy/egress-policy.ts';
import { HealthChecker } from './proxy/health-checker.ts';
import { TargetRegistry } from './proxy/upstream.ts';
import { registerSinkMetrics } from './usage/sink-metrics.ts';

const config = loadGatewayConfig();
// Async destination: logging never blocks the event loop on a slow stdout. Lines are buffered
// up to 32 KiB (one write(2), i.e. one hop to the thread pool, per ~150 access-log lines instead
// of one per request) and flushed at least every 200 ms, and synchronously at shutdown; a crash
// loses at most that buffer.
const destination = pino.destination({
  sync: false,
  minLength: 32_768,
  maxWrite: 65_536,
  periodicFlush: 200,
});
const logger = pino({ level: config.LOG_LEVEL, base: { instance: config.GATEWAY_INSTANCE_ID } }, destination);
const accessLog = new AccessLog(destination, {
  bindings: { instance: config.GATEWAY_INSTANCE_ID, log: 'access' },
  enabled: logger.isLevelEnabled('info'),
});
const metrics = createMetrics();
registerLoopDelayMetrics(metrics);

const prisma = createPrisma(config.DATABASE_URL);
const source = new PostgresControlPlaneSource(prisma, config.DATABASE_URL);

// The limiter's own deadline (REDIS_TIMEOUT_MS, from the send, blind to loop lag) bounds each
// check; the client's command timeout is only a backstop for replies that never come.
const redis = createRedis({
  url: config.REDIS_URL,
  commandTimeoutMs: limiterClientTimeoutMs(config.REDIS_TIMEOUT_MS),
});
redis.on('error', (err) => logger.debug({ err }, 'redis error'));
const limits = buildLimiter(config, redis, logger);
const limiter = limits.limiter;
if (limits.leasing !== null) registerLeaseMetrics(metrics, limits.leasing);

const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID });
const topic = config.GATEWAY_USAGE_TOPIC;
// Topic provisioning must not block the start: while Kafka is away, events go to the spool.
ensureTopics(kafka, [{ topic }]).catch((err: unknown) =>
  logger.warn({ err, topic }, 'could not ensure the usage topic'),
);
mkdirSync(config.GATEWAY_SPOOL_DIR, { recursive: true });
const sink = KafkaUsageSink.open({
  kafka,
  spoolDir: config.GATEWAY_SPOOL_DIR,
  topic: topic === USAGE_TOPIC_V2 ? undefined : topic,
  maxSpoolBytes: config.GATEWAY_SPOOL_MAX_BYTES,
  writeMode: config.GATEWAY_SPOOL_WRITE_MODE,
  fsyncIntervalMs: config.GATEWAY_SPOOL_FSYNC_INTERVAL_MS,
  batchSize: config.GATEWAY_USAGE_BATCH_SIZE,
  lingerMs: config.GATEWAY_USAGE_LINGER_MS,
  log: (level, msg, fields) => logger[level](fields ?? {}, msg),
});
registerSinkMetrics(metrics, sink);
registerLimiterMetrics(metrics, limiter);

const egress = new EgressPolicy(config.GATEWAY_UPSTREAM_ALLOW);
const egressLoggedAt = new WeakMap<object, number>();
egress.denySelfPort(config.GATEWAY_PORT);
egress.denySelfPort(config.GATEWAY_ADMIN_PORT);
const registry = new TargetRegistry({
  connections: config.GATEWAY_UPSTREAM_CONNECTIONS,
  connectTimeoutMs: config.GATEWAY_UPSTREAM_CONNECT_TIMEOUT_MS,
  passiveFailures: config.GATEWAY_PASSIVE_HEALTH_FAILURES,
  breakerFailures: config.GATEWAY_BREAKER_FAILURES,
  breakerOpenMs: config.GATEWAY_BREAKER_OPEN_MS,
  onStateChange: (target, state) => {
    metrics.targetState.inc({ state });
    logger.warn({ upstream: target.origin, state }, 'upstream target state changed');
  },
  egress,
  onEgressRefused: (target, err) => {
    metrics.upstreamForbidden.inc({ reason: err.verdict });
    // Every request to such a target is refused the same way: one log line a minute per target.
    const now = Date.now();
    if ((egressLoggedAt.get(target) ?? 0) > now - 60_000) return;
    egressLoggedAt.set(target, now);
    logger.warn(
      { upstream: target.origin, address: err.address, reason: err.verdict },
      'upstream connection refused by the egress policy (GATEWAY_UPSTREAM_ALLOW)',
    );
  },
});
const keys = new ApiKeyResolver(
  (hash) => source.findKeyByHash(hash),
  {
    ttlMs: config.GATEWAY_KEY_CACHE_TTL_MS,
    negativeTtlMs: config.GATEWAY_KEY_CACHE_NEGATIVE_TTL_MS,
    maxEntries: config.GATEWAY_KEY_CACHE_MAX,
    negativeMaxEntries: config.GATEWAY_KEY_NEGATIVE_CACHE_MAX,
    budget: {
      perSecond: config.GATEWAY_KEY_LOOKUP_BUDGET_PER_S,
      burst: config.GATEWAY_KEY_LOOKUP_BUDGET_BURST,
      maxAddresses: config.GATEWAY_KEY_LOOKUP_BUDGET_ADDRESSES,
    },
    gate: { concurrency: config.GATEWAY_KEY_LOOKUP_CONCURRENCY, queue: config.GATEWAY_KEY_LOOKUP_QUEUE },
  },
  metrics,
);
const probation = config.GATEWAY_CONFIG_AUTO_ROLLBACK
  ? new ConfigProbation({
      failedChecks: config.GATEWAY_CONFIG_ROLLBACK_FAILED_CHECKS,
      // Undecided only when checks do not run; well past the time the checks take.
      maxAgeMs: Math.max(
        120_000,
        4 * config.GATEWAY_CONFIG_ROLLBACK_FAILED_CHECKS * config.GATEWAY_HEALTH_CHECK_INTERVAL_MS,
      ),
      instanceId: config.GATEWAY_INSTANCE_ID,
      restore: (request) => source.restoreApis(request),
      metrics,
      logger,
    })
  : null;
const controlPlane = new ControlPlane({
  source,
  registry,
  metrics,
  logger,
  defaultMaxBodyBytes: config.GATEWAY_MAX_BODY_BYTES,
  resyncMs: config.GATEWAY_CONFIG_RESYNC_MS,
  onKeysChanged: () => keys.clear(),
  onApplied: probation === null ? undefined : (previous, next) => probation.onApplied(previous, next),
});
const jwtEnabled = config.GATEWAY_JWT_JWKS_URL !== undefined || config.GATEWAY_JWT_PUBLIC_KEYS !== undefined;
const jwt = jwtEnabled
  ? new JwtVerifier(
      {
        jwksUrl: config.GATEWAY_JWT_JWKS_URL,
        publicKeys: config.GATEWAY_JWT_PUBLIC_KEYS as JSONWebKeySet | undefined,
        issuer: config.GATEWAY_JWT_ISSUER!,
        audience: config.GATEWAY_JWT_AUDIENCE!,
        algorithms: config.GATEWAY_JWT_ALGORITHMS,
        consumerClaim: config.GATEWAY_JWT_CONSUMER_CLAIM,
        cooldownMs: config.GATEWAY_JWT_JWKS_COOLDOWN_MS,
        cacheMaxAgeMs: config.GATEWAY_JWT_JWKS_MAX_AGE_MS,
        timeoutMs: config.GATEWAY_JWT_JWKS_TIMEOUT_MS,
        clockToleranceS: config.GATEWAY_JWT_CLOCK_TOLERANCE_S,
      },
      metrics,
    )
  : null;
const health = new HealthChecker(registry, {
  intervalMs: config.GATEWAY_HEALTH_CHECK_INTERVAL_MS,
  timeoutMs: config.GATEWAY_HEALTH_CHECK_TIMEOUT_MS,
  onResult: probation === null ? undefined : (target, healthy) => probation.onHealthResult(target, healthy),
});

let shuttingDown = false;
let sinkClosed = false;
const maxSpool = config.GATEWAY_SPOOL_MAX_BYTES;

const app = buildApp({
  controlPlane,
  keys,
  jwt,
  limiter,
  fallbackLimiter: new MemoryLimiter(),
  sink,
  metrics,
  accessLog,
  logger,
  options: {
    instanceId: config.GATEWAY_INSTANCE_ID,
    trustedProxies: parseTrustedProxies(config.GATEWAY_TRUSTED_PROXIES),
    consumerHeader: config.GATEWAY_CONSUMER_HEADER.toLowerCase(),
    planHeader: config.GATEWAY_PLAN_HEADER.toLowerCase(),
    retries: config.GATEWAY_UPSTREAM_RETRIES,
    failClosedRetryAfterS: config.GATEWAY_FAIL_CLOSED_RETRY_AFTER_S,
    admission: {
      maxPerAddress: config.GATEWAY_MAX_CONCURRENT_PER_ADDRESS,
      maxPerConsumer: config.GATEWAY_MAX_CONCURRENT_PER_CONSUMER,
      upstreamShare: config.GATEWAY_UPSTREAM_FAIR_SHARE,
    },
    bodyRate: {
      minBytesPerS: config.GATEWAY_MIN_BODY_RATE_BYTES_PER_S,
      graceMs: config.GATEWAY_BODY_RATE_GRACE_MS,
    },
    loadShed: {
      maxInFlight: config.GATEWAY_MAX_IN_FLIGHT,
      maxLoopLagMs: config.GATEWAY_SHED_LOOP_LAG_MS,
    },
  },
  limits: {
    maxHeaderBytes: config.GATEWAY_MAX_HEADER_BYTES,
    headersTimeoutMs: config.GATEWAY_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.GATEWAY_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: config.GATEWAY_KEEP_ALIVE_TIMEOUT_MS,
  },
});
const admin = buildAdminApp({
  controlPlane,
  probation,
  metrics,
  logger,
  sinkHealth: { healthy: () => !sinkClosed && sink.stats().spoolBytes < maxSpool * 0.9 },
  isShuttingDown: () => shuttingDown,
});

await controlPlane.start();
health.start();
await admin.listen({ host: config.GATEWAY_ADMIN_HOST, port: config.GATEWAY_ADMIN_PORT });
await app.listen({ host: config.GATEWAY_HOST, port: config.GATEWAY_PORT });
const addressOf = (server: typeof app.server) => {
  const a = server.address();
  return typeof a === 'object' && a !== null ? a.port : null;
};
// The ports actually bound (port 0 in the config picks a free one).
egress.denySelfPort(addressOf(app.server) ?? 0);
egress.denySelfPort(addressOf(admin.server) ?? 0);
logger.info(
  {
    port: addressOf(app.server),
    adminPort: addressOf(admin.server),
    routes: controlPlane.current?.routes.length,
  },
  'gateway listening',
);

/** Graceful shutdown: stop accepting, finish in-flight requests (bounded), drain the sink. */
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  logger.info({ signal }, 'gateway shutting down');
  const force = setTimeout(() => app.server.closeAllConnections(), config.GATEWAY_SHUTDOWN_GRACE_MS);
  force.unref();
  await app.close().catch((err: unknown) => logger.error({ err }, 'closing the proxy listener failed'));
  clearTimeout(force);
  health.stop();
  await controlPlane.close();
  await sink.close({ deadlineMs: config.GATEWAY_SHUTDOWN_GRACE_MS });
  sinkClosed = true;
  // Leased units go back while Redis is still there (the requests that could use them are done).
  await limits.close();
  await Promise.allSettled([redis.quit(), source.close(), registry.close(), admin.close()]);
  logger.info('gateway stopped');
  accessLog.close();
  try {
    destination.flushSync();
  } catch {
    // not ready yet: nothing buffered
  }
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
