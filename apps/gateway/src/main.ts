import { mkdirSync } from 'node:fs';
import { MemoryLimiter, USAGE_TOPIC_V1 } from '@tollgate/core';
import { createPrisma } from '@tollgate/db';
import { createKafka, ensureTopics, KafkaUsageSink } from '@tollgate/kafka';
import { createRedis, RedisLimiter } from '@tollgate/redis';
import type { JSONWebKeySet } from 'jose';
import pino from 'pino';
import { AccessLog } from './access-log.ts';
import { buildAdminApp, buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';
import { ControlPlane } from './control-plane/control-plane.ts';
import { PostgresControlPlaneSource } from './control-plane/postgres-source.ts';
import { ApiKeyResolver } from './identity/resolve-api-key.ts';
import { JwtVerifier } from './identity/verify-jwt.ts';
import { createMetrics } from './metrics.ts';
import { parseTrustedProxies } from './proxy/headers.ts';
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

const prisma = createPrisma(config.DATABASE_URL);
const source = new PostgresControlPlaneSource(prisma, config.DATABASE_URL);

const redis = createRedis({ url: config.REDIS_URL, commandTimeoutMs: config.REDIS_TIMEOUT_MS });
redis.on('error', (err) => logger.debug({ err }, 'redis error'));
const limiter = new RedisLimiter({
  redis,
  timeoutMs: config.REDIS_TIMEOUT_MS,
  keyPrefix: config.GATEWAY_REDIS_KEY_PREFIX,
});

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
  topic: topic === USAGE_TOPIC_V1 ? undefined : topic,
  maxSpoolBytes: config.GATEWAY_SPOOL_MAX_BYTES,
  writeMode: config.GATEWAY_SPOOL_WRITE_MODE,
  fsyncIntervalMs: config.GATEWAY_SPOOL_FSYNC_INTERVAL_MS,
  batchSize: config.GATEWAY_USAGE_BATCH_SIZE,
  lingerMs: config.GATEWAY_USAGE_LINGER_MS,
  log: (level, msg, fields) => logger[level](fields ?? {}, msg),
});
registerSinkMetrics(metrics, sink);

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
});
const keys = new ApiKeyResolver(
  (hash) => source.findKeyByHash(hash),
  {
    ttlMs: config.GATEWAY_KEY_CACHE_TTL_MS,
    negativeTtlMs: config.GATEWAY_KEY_CACHE_NEGATIVE_TTL_MS,
    maxEntries: config.GATEWAY_KEY_CACHE_MAX,
  },
  metrics,
);
const controlPlane = new ControlPlane({
  source,
  registry,
  metrics,
  logger,
  defaultMaxBodyBytes: config.GATEWAY_MAX_BODY_BYTES,
  resyncMs: config.GATEWAY_CONFIG_RESYNC_MS,
  onKeysChanged: () => keys.clear(),
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
