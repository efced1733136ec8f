import { createClickhouse, createSqlRunner, createUsageStore } from '@tollgate/clickhouse';
import { createPrisma } from '@tollgate/db';
import { createKafka, ensureTopics } from '@tollgate/kafka';
import { pino } from 'pino';
import { createAlertEvaluator } from './alerts/alert-evaluator.ts';
import { deliverDueAlerts } from './alerts/deliver-usage-alerts.ts';
import { evaluateUsageAlerts } from './alerts/evaluate-usage-alerts.ts';
import { createWebhookDispatcher } from './alerts/webhook-dispatcher.ts';
import { buildApp } from './app.ts';
import { loadMeteringConfig } from './config.ts';
import { type IngestStatus, startIngest } from './ingest/start-ingest.ts';
import { createMeteringMetrics } from './metrics.ts';
import { dropExpiredPartitions } from './retention/drop-expired-partitions.ts';

/**
 * Metering: Kafka ingest into ClickHouse, the usage API, alert evaluation and delivery, and
 * the retention job, in one process. SIGTERM/SIGINT: stop taking requests, let the batch in
 * flight store and commit, stop the loops, close clients.
 */
const config = loadMeteringConfig();
const log = pino({ level: config.LOG_LEVEL, base: { service: 'metering' } });

const clickhouse = createClickhouse({
  url: config.CLICKHOUSE_URL,
  database: config.CLICKHOUSE_DATABASE,
  username: config.CLICKHOUSE_USER,
  password: config.CLICKHOUSE_PASSWORD,
});
// The ingest is created below; metrics read its status lazily.
let ingestStatus: (() => IngestStatus) | undefined;
const metrics = createMeteringMetrics(() => ingestStatus?.());
const store = metrics.timedStore(createSqlRunner(clickhouse));
const usage = createUsageStore(store);
const prisma = createPrisma(config.DATABASE_URL);
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-metering` });

if (config.METERING_ENSURE_TOPICS) {
  await ensureTopics(kafka, [
    { topic: config.USAGE_TOPIC, numPartitions: config.METERING_TOPIC_PARTITIONS },
    { topic: config.USAGE_DEAD_LETTER_TOPIC, numPartitions: 1 },
  ]);
}

const evaluator = createAlertEvaluator(async (consumerIds) => {
  const raised = await evaluateUsageAlerts({ prisma, usage, now: new Date() }, consumerIds);
  metrics.alertsRaised(raised.length);
  if (raised.length > 0) log.info({ alerts: raised }, 'quota alerts raised');
}, log);

const ingest = await startIngest({
  kafka,
  store,
  log: log.child({ component: 'ingest' }),
  topic: config.USAGE_TOPIC,
  deadLetterTopic: config.USAGE_DEAD_LETTER_TOPIC,
  groupId: config.METERING_CONSUMER_GROUP,
  batchMaxRows: config.METERING_BATCH_MAX_ROWS,
  batchMaxWaitMs: config.METERING_BATCH_MAX_WAIT_MS,
  fetchMinBytes: config.METERING_FETCH_MIN_BYTES,
  fetchMaxBytesPerPartition: config.METERING_FETCH_MAX_BYTES_PER_PARTITION,
  partitionsConcurrently: config.METERING_PARTITIONS_CONCURRENTLY,
  retryInitialMs: config.METERING_RETRY_INITIAL_MS,
  retryMaxMs: config.METERING_RETRY_MAX_MS,
  onStored: (batch) => {
    metrics.stored(batch);
    evaluator.touched(batch.consumerIds);
  },
  onFailure: () => metrics.insertFailed(),
});
ingestStatus = () => ingest.status();

/** Runs `task` now and then every `intervalMs`, never overlapping itself; returns a stopper. */
function every(name: string, intervalMs: number, task: () => Promise<unknown>): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const run = () => {
    current = task()
      .catch((err) => log.warn({ err }, `${name} failed`))
      .finally(() => {
        if (!stopped) timer = setTimeout(run, intervalMs);
      });
  };
  run();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await current;
  };
}

const webhookDispatcher = createWebhookDispatcher({
  allowPrivateNetworks: config.ALERT_WEBHOOK_ALLOW_PRIVATE_NETWORKS,
  timeoutMs: config.ALERT_WEBHOOK_TIMEOUT_MS,
});
const stopDelivery = every('alert delivery', config.ALERT_DELIVERY_INTERVAL_MS, async () => {
  const result = await deliverDueAlerts({
    prisma,
    dispatcher: webhookDispatcher,
    allowPrivateNetworks: config.ALERT_WEBHOOK_ALLOW_PRIVATE_NETWORKS,
    log,
    maxAttempts: config.ALERT_MAX_ATTEMPTS,
    timeoutMs: config.ALERT_WEBHOOK_TIMEOUT_MS,
    retryInitialMs: config.ALERT_RETRY_INITIAL_MS,
    retryMaxMs: config.ALERT_RETRY_MAX_MS,
  });
  metrics.alertsDelivered(result);
});
const stopRetention = every('retention', config.METERING_RETENTION_INTERVAL_MS, async () => {
  const dropped = await dropExpiredPartitions(store, {
    database: config.CLICKHOUSE_DATABASE,
    retentionMonths: config.METERING_RETENTION_MONTHS,
    now: new Date(),
  });
  if (dropped.length > 0) log.info({ dropped }, 'retention dropped expired partitions');
});

const app = buildApp({
  usage,
  prisma,
  serviceToken: config.METERING_SERVICE_TOKEN,
  probes: {
    clickhouse: () => store.ping(),
    postgres: async () => {
      await prisma.$queryRaw`SELECT 1`;
      return true;
    },
  },
  ingestStatus: () => ingest.status(),
  metrics: metrics.registry,
  logger: { level: config.LOG_LEVEL },
});
await app.listen({ host: config.METERING_HOST, port: config.METERING_PORT });

let shuttingDown = false;
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    log.error('shutdown took longer than 30 s: exiting');
    process.exit(1);
  }, 30_000);
  force.unref();
  try {
    await app.close();
    // Commits only what the batch in flight stored; nothing else is ever committed.
    await ingest.stop();
    await Promise.all([stopDelivery(), stopRetention(), evaluator.idle()]);
    await Promise.all([prisma.$disconnect(), clickhouse.close(), webhookDispatcher.close()]);
    process.exit(0);
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
