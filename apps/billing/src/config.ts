import {
  clickhouseEnv,
  DEFAULT_STRIPE_WEBHOOK_SECRET,
  isLiveStripeKey,
  isLocalStripe,
  loadConfig,
  logEnv,
  parseConfig,
  postgresEnv,
  stripeEnv,
  z,
} from '@tollgate/config';

/** The key stripe-mock accepts; local-only features (the test checkout page) are keyed off it. */
export const STRIPE_MOCK_KEY = 'sk_test_123';

// DATABASE_URL: Postgres (plans, subscriptions, the meter_reports ledger, webhooks, audit_log).
export const BillingConfigSchema = postgresEnv
  // CLICKHOUSE_URL, CLICKHOUSE_DATABASE (default tollgate), CLICKHOUSE_USER, CLICKHOUSE_PASSWORD:
  // where usage_events_v1 is read for exact billable totals.
  .extend(clickhouseEnv.shape)
  // STRIPE_SECRET_KEY (default sk_test_123, the stripe-mock key), STRIPE_API_BASE (unset = real
  // api.stripe.com; http://127.0.0.1:12111 = local stripe-mock), STRIPE_WEBHOOK_SECRET (whsec_…;
  // its public default is refused unless Stripe is local, see below).
  .extend(stripeEnv.shape)
  // LOG_LEVEL: pino level (default info).
  .extend(logEnv.shape)
  .extend({
    /** Listen address (the same shape as @tollgate/config listenEnv('BILLING', 8082)). */
    BILLING_HOST: z.string().default('127.0.0.1'),
    /** Listen port. */
    BILLING_PORT: z.coerce.number().int().min(0).max(65535).default(8082),
    /** Bearer token every /v1/* caller (portal, metering, ops) must present. At least 16 chars. */
    BILLING_SERVICE_TOKEN: z.string().min(16),
    /** Public base URL of this service; the local test checkout page links are built from it. */
    BILLING_PUBLIC_URL: z.url().default('http://127.0.0.1:8082'),
    /**
     * Serve the local test checkout page (GET /checkout/local/:id) that completes a checkout by
     * sending our own webhook a signed event. Always on with the stripe-mock key sk_test_123;
     * with any other key only when set to true explicitly, and never with a live key.
     */
    STRIPE_LOCAL_CHECKOUT: z.stringbool().default(false),
    /** Largest allowed difference between a webhook's signed timestamp and now, in seconds. */
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().positive().default(300),
    /** Per-request timeout for Stripe calls, milliseconds (a timeout is retried). */
    STRIPE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
    /** After invoice.payment_failed: seconds of continued access before the consumer is suspended. */
    BILLING_GRACE_PERIOD_SECONDS: z.coerce.number().int().nonnegative().default(259_200),
    /** Stripe Billing Meter event name all metered plans report to. */
    BILLING_METER_EVENT_NAME: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,99}$/)
      .default('tollgate_api_units'),
    /** Usage window reported as one meter event, seconds; must divide a day (3600 = hourly). */
    BILLING_USAGE_WINDOW_SECONDS: z.coerce
      .number()
      .int()
      .positive()
      .refine((s) => 86_400 % s === 0, 'must divide 86400')
      .default(3600),
    /** A window is reported only this many seconds after it closes, so late events make it in. */
    BILLING_USAGE_LATENESS_SECONDS: z.coerce.number().int().nonnegative().default(600),
    /**
     * Stripe's invoice finalization grace period, seconds (Stripe default: 1 hour). Until this long
     * after a period ends, late usage of the previous period is still trued up.
     */
    BILLING_INVOICE_GRACE_SECONDS: z.coerce.number().int().nonnegative().default(3600),
    /** How often the usage reporter runs, seconds. */
    BILLING_REPORT_INTERVAL_SECONDS: z.coerce.number().int().positive().default(60),
    /** How often expired grace periods are turned into suspensions, seconds. */
    BILLING_GRACE_CHECK_INTERVAL_SECONDS: z.coerce.number().int().positive().default(5),
    /**
     * Global cap on meter event calls per second. Stripe allows 1000/s in live mode; in test
     * mode meter events count against the basic 25 writes/s. Default: 900 live, 20 test.
     */
    BILLING_METER_EVENTS_PER_SECOND: z.coerce.number().positive().optional(),
    /** Attempts per meter event within one run (429, 5xx, timeouts) before waiting for the next run. */
    BILLING_STRIPE_MAX_ATTEMPTS: z.coerce.number().int().positive().default(8),
    /** First retry delay, milliseconds; doubles per attempt with full jitter, capped at 30 s. */
    BILLING_STRIPE_RETRY_BASE_MS: z.coerce.number().int().positive().default(200),
    /** Run the usage reporter and grace-period jobs in this process. */
    BILLING_SCHEDULER_ENABLED: z.stringbool().default(true),
    /** Sync the plan catalog to Stripe at start. */
    BILLING_CATALOG_SYNC_ON_START: z.stringbool().default(true),
    /** Reconciliation flags drift larger than this many units. */
    BILLING_DRIFT_TOLERANCE_UNITS: z.coerce.number().int().nonnegative().default(0),
  })
  .superRefine((c, ctx) => {
    if (c.STRIPE_LOCAL_CHECKOUT && isLiveStripeKey(c.STRIPE_SECRET_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRIPE_LOCAL_CHECKOUT'],
        message: 'the local test checkout can never be enabled with a live key',
      });
    }
    // The default secret is public: with it anyone can sign a checkout.session.completed and get
    // an active paid subscription for free. Only a local stand-in for Stripe may use it.
    if (c.STRIPE_WEBHOOK_SECRET === DEFAULT_STRIPE_WEBHOOK_SECRET && !isLocalStripe(c)) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRIPE_WEBHOOK_SECRET'],
        message:
          'set the endpoint secret Stripe shows for this webhook (whsec_…): the public development default is only accepted with a test key against a local stripe-mock (STRIPE_API_BASE on 127.0.0.1)',
      });
    }
  });

export type BillingConfig = z.infer<typeof BillingConfigSchema>;

/** Local checkout only against the mock key, or when asked for explicitly with a test key. */
export function localCheckoutEnabled(
  c: Pick<BillingConfig, 'STRIPE_SECRET_KEY' | 'STRIPE_LOCAL_CHECKOUT'>,
): boolean {
  if (isLiveStripeKey(c.STRIPE_SECRET_KEY)) return false;
  return c.STRIPE_SECRET_KEY === STRIPE_MOCK_KEY || c.STRIPE_LOCAL_CHECKOUT;
}

export function meterEventsPerSecond(
  c: Pick<BillingConfig, 'STRIPE_SECRET_KEY' | 'BILLING_METER_EVENTS_PER_SECOND'>,
): number {
  return c.BILLING_METER_EVENTS_PER_SECOND ?? (isLiveStripeKey(c.STRIPE_SECRET_KEY) ? 900 : 20);
}

export function parseBillingConfig(env: Record<string, string | undefined>): BillingConfig {
  return parseConfig(BillingConfigSchema, env);
}

/** For main.ts only: the one place process.env is read. */
export function loadBillingConfig(): BillingConfig {
  return loadConfig(BillingConfigSchema, process.env);
}
