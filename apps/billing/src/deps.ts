import type { ClickHouseClient, UsageStore } from '@tollgate/clickhouse';
import type { PrismaClient } from '@tollgate/db';
import type { Stripe } from '@tollgate/stripe';
import type { BillingConfig } from './config.ts';
import type { Metrics } from './metrics.ts';

export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Everything a use case needs, built once in main.ts (or a test) and passed down. */
export interface BillingDeps {
  config: BillingConfig;
  prisma: PrismaClient;
  clickhouse: ClickHouseClient;
  /** Every read of usage_events_v1 (over `clickhouse`): the same store metering reads. */
  usage: UsageStore;
  stripe: Stripe;
  metrics: Metrics;
  log: Log;
  now: () => Date;
}

export const silentLog: Log = { info() {}, warn() {}, error() {} };
