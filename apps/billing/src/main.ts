import { createClickhouse, createSqlRunner, createUsageStore } from '@tollgate/clickhouse';
import { createPrisma } from '@tollgate/db';
import { createStripe } from '@tollgate/stripe';
import { pino } from 'pino';
import { buildApp } from './app.ts';
import { syncCatalog } from './catalog/sync-catalog.ts';
import { loadBillingConfig, localCheckoutEnabled } from './config.ts';
import type { BillingDeps } from './deps.ts';
import { createBillingMetrics } from './metrics.ts';
import { startScheduler } from './scheduler.ts';

const config = loadBillingConfig();
const log = pino({ level: config.LOG_LEVEL, name: 'billing' });
const prisma = createPrisma(config.DATABASE_URL);
const clickhouse = createClickhouse({
  url: config.CLICKHOUSE_URL,
  database: config.CLICKHOUSE_DATABASE,
  username: config.CLICKHOUSE_USER,
  password: config.CLICKHOUSE_PASSWORD,
});
const stripe = createStripe({
  secretKey: config.STRIPE_SECRET_KEY,
  apiBase: config.STRIPE_API_BASE,
  timeoutMs: config.STRIPE_TIMEOUT_MS,
});
const deps: BillingDeps = {
  config,
  prisma,
  clickhouse,
  usage: createUsageStore(createSqlRunner(clickhouse)),
  stripe,
  metrics: createBillingMetrics(),
  log,
  now: () => new Date(),
};

if (config.BILLING_CATALOG_SYNC_ON_START) {
  try {
    const result = await syncCatalog(deps);
    log.info({ result }, 'catalog synced to Stripe');
  } catch (err) {
    log.error({ err }, 'catalog sync failed at start; checkout syncs plans on demand');
  }
}
const scheduler = config.BILLING_SCHEDULER_ENABLED ? startScheduler(deps) : null;
const app = await buildApp(deps, {
  logger: log,
  ...(scheduler === null ? {} : { runUsageOnce: scheduler.runUsageOnce }),
});
if (localCheckoutEnabled(config))
  log.warn('LOCAL TEST CHECKOUT enabled (/checkout/local/:id): development against stripe-mock only');
await app.listen({ host: config.BILLING_HOST, port: config.BILLING_PORT });

let closing = false;
const shutdown = async (signal: string) => {
  if (closing) return;
  closing = true;
  log.info({ signal }, 'shutting down');
  const force = setTimeout(() => process.exit(1), 15_000);
  force.unref();
  await app.close();
  await scheduler?.stop();
  await clickhouse.close();
  await prisma.$disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
