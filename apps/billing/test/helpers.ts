import {
  type ClickHouseClient,
  createClickhouse,
  createSqlRunner,
  createUsageStore,
} from '@tollgate/clickhouse';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import type { PrismaClient } from '@tollgate/db';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { createStripe } from '@tollgate/stripe';
import { parseBillingConfig } from '../src/config.ts';
import { type BillingDeps, silentLog } from '../src/deps.ts';
import { createBillingMetrics } from '../src/metrics.ts';

export const STRIPE_MOCK_BASE = process.env.STRIPE_API_BASE ?? 'http://127.0.0.1:12111';
export const SERVICE_TOKEN = 'test-service-token-0123456789';
export const WEBHOOK_SECRET = 'whsec_test_billing_secret';

export interface Harness {
  db: TestDatabase;
  ch: TestClickhouseDatabase;
  clickhouse: ClickHouseClient;
  deps: BillingDeps;
  close(): Promise<void>;
}

export async function createHarness(opts: {
  stripeApiBase: string;
  env?: Record<string, string>;
  now?: () => Date;
}): Promise<Harness> {
  const [db, ch] = await Promise.all([createTestDatabase(), createTestClickhouseDatabase()]);
  const clickhouse = createClickhouse({
    url: ch.url,
    database: ch.database,
    username: ch.username,
    password: ch.password,
  });
  const config = parseBillingConfig({
    DATABASE_URL: db.url,
    CLICKHOUSE_URL: ch.url,
    CLICKHOUSE_DATABASE: ch.database,
    STRIPE_SECRET_KEY: 'sk_test_123',
    STRIPE_API_BASE: opts.stripeApiBase,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    BILLING_SERVICE_TOKEN: SERVICE_TOKEN,
    BILLING_METER_EVENTS_PER_SECOND: '5000',
    BILLING_STRIPE_RETRY_BASE_MS: '1',
    ...opts.env,
  });
  const deps: BillingDeps = {
    config,
    prisma: db.prisma,
    clickhouse,
    usage: createUsageStore(createSqlRunner(clickhouse)),
    stripe: createStripe({
      secretKey: config.STRIPE_SECRET_KEY,
      apiBase: opts.stripeApiBase,
      timeoutMs: 5000,
    }),
    metrics: createBillingMetrics(),
    log: silentLog,
    now: opts.now ?? (() => new Date()),
  };
  return {
    db,
    ch,
    clickhouse,
    deps,
    async close() {
      await clickhouse.close();
      await Promise.all([db.drop(), ch.drop()]);
    },
  };
}

export async function createPlan(
  prisma: PrismaClient,
  overrides: Partial<Parameters<PrismaClient['plan']['create']>[0]['data']> & { slug: string },
) {
  return prisma.plan.create({
    data: {
      name: overrides.slug,
      quota: 1000,
      priceCents: 0,
      capMode: 'hard',
      ...overrides,
    },
  });
}

export function chTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}
