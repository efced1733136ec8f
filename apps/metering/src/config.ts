import { clickhouseEnv, kafkaEnv, loadConfig, logEnv, parseConfig, postgresEnv, z } from '@tollgate/config';
import { USAGE_DEAD_LETTER_TOPIC_V2, USAGE_TOPIC_V2 } from '@tollgate/core';

/**
 * Every variable metering reads, parsed once at boot. The only file in apps/metering that reads
 * process.env. Shared fragments (packages/config) bring:
 *   DATABASE_URL                      Postgres: subscriptions, plans, consumers, the usage_alerts outbox
 *   KAFKA_BROKERS, KAFKA_CLIENT_ID    Kafka brokers (host:port,...) and this client's id
 *   CLICKHOUSE_URL, CLICKHOUSE_DATABASE, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD   the usage store
 *   LOG_LEVEL                         pino level
 *   METERING_HOST, METERING_PORT      where the usage API listens (default 127.0.0.1:8081)
 */
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const MeteringConfigSchema = postgresEnv
  .extend(kafkaEnv.shape)
  .extend(clickhouseEnv.shape)
  .extend(logEnv.shape)
  .extend({
    /** Where the usage API listens (spelled out rather than listenEnv('METERING', 8081), whose computed keys lose their types). */
    METERING_HOST: z.string().default('127.0.0.1'),
    METERING_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
    /** Bearer token the portal and billing present to the usage API (at least 32 characters). */
    METERING_SERVICE_TOKEN: z.string().min(32, 'at least 32 characters'),
    /** Topic the gateway publishes usage events to. */
    USAGE_TOPIC: z.string().min(1).default(USAGE_TOPIC_V2),
    /** Where malformed or unknown-version events go, with the reason in a header. */
    USAGE_DEAD_LETTER_TOPIC: z.string().min(1).default(USAGE_DEAD_LETTER_TOPIC_V2),
    /** Kafka consumer group of the ingest; every metering replica joins the same one. */
    METERING_CONSUMER_GROUP: z.string().min(1).default('tollgate-metering'),
    /** Create the usage and dead-letter topics at boot when missing (auto creation is off). */
    METERING_ENSURE_TOPICS: z.stringbool().default(true),
    /** Partitions for topics created at boot. */
    METERING_TOPIC_PARTITIONS: positiveInt(3),
    /** Most rows in one ClickHouse insert; a larger Kafka batch is inserted in several. */
    METERING_BATCH_MAX_ROWS: positiveInt(30_000),
    /** Longest a fetch waits for METERING_FETCH_MIN_BYTES to accumulate: the time side of batching. */
    METERING_BATCH_MAX_WAIT_MS: positiveInt(100),
    /** Bytes the broker accumulates before answering a fetch early: the size side of batching. */
    METERING_FETCH_MIN_BYTES: positiveInt(256 * 1024),
    /** Largest fetch per partition (bounds one batch's memory). */
    METERING_FETCH_MAX_BYTES_PER_PARTITION: positiveInt(4 * 1024 * 1024),
    /** Partitions processed (and inserted) in parallel. */
    METERING_PARTITIONS_CONCURRENTLY: positiveInt(3),
    /** First pause after a failed insert; doubles per failure up to the max (with jitter). */
    METERING_RETRY_INITIAL_MS: positiveInt(500),
    METERING_RETRY_MAX_MS: positiveInt(30_000),
    /** Raw events and rollups keep this many whole months before the current one; older partitions are dropped. */
    METERING_RETENTION_MONTHS: positiveInt(13),
    /** How often the retention job runs (default daily). */
    METERING_RETENTION_INTERVAL_MS: positiveInt(86_400_000),
    /** How often the alert outbox is polled for deliveries due. */
    ALERT_DELIVERY_INTERVAL_MS: positiveInt(1000),
    /** Attempts per alert webhook before it is given up (the alert stays listed, undelivered). */
    ALERT_MAX_ATTEMPTS: positiveInt(12),
    /** First wait after a failed webhook; doubles per attempt up to the max (with jitter). */
    ALERT_RETRY_INITIAL_MS: positiveInt(1000),
    ALERT_RETRY_MAX_MS: positiveInt(3_600_000),
    /**
     * Let alert webhooks reach private, loopback and link-local addresses. Off in production:
     * webhook URLs are chosen by consumers and must not reach internal services (SSRF).
     */
    ALERT_WEBHOOK_ALLOW_PRIVATE_NETWORKS: z.stringbool().default(false),
    /** Timeout of one webhook request. */
    ALERT_WEBHOOK_TIMEOUT_MS: positiveInt(5000),
  });
export type MeteringConfig = z.infer<typeof MeteringConfigSchema>;

/** For main.ts: prints every bad variable and exits 1. */
export function loadMeteringConfig(): MeteringConfig {
  return loadConfig(MeteringConfigSchema, process.env);
}

/** For tests: throws a ConfigError instead of exiting. */
export function parseMeteringConfig(env: Record<string, string | undefined>): MeteringConfig {
  return parseConfig(MeteringConfigSchema, env);
}
