import { parseConfig, postgresEnv, trustedProxiesVar, z } from '@tollgate/config';

/**
 * Portal configuration, parsed once on first use (not at import: `next build` imports server
 * modules without a runtime environment). Only this file reads process.env.
 */
export const PortalConfigSchema = postgresEnv.extend({
  /** Metering service base URL (usage totals, time series, quota, finance report, alerts). */
  METERING_URL: z.url().default('http://127.0.0.1:8081'),
  /** Bearer token the portal presents to metering. */
  METERING_SERVICE_TOKEN: z.string().default('dev-metering-token'),
  /** Billing service base URL (checkout, proration preview, plan change, invoices, reconciliation). */
  BILLING_URL: z.url().default('http://127.0.0.1:8082'),
  /** Bearer token the portal presents to billing. */
  BILLING_SERVICE_TOKEN: z.string().default('dev-billing-token'),
  /** Public gateway address used in the copy-paste curl examples of the API catalog. */
  GATEWAY_PUBLIC_URL: z.url().default('http://127.0.0.1:8080'),
  /**
   * The portal's own public origin (scheme://host:port). Used for checkout return URLs and for
   * the Origin check of route handlers. https origins get `__Host-` Secure cookies; on plain
   * http (local development) browsers drop Secure cookies, so the cookie is not Secure there.
   */
  PORTAL_PUBLIC_URL: z.url().optional(),
  /** Address the portal's server (src/main.ts) listens on. */
  PORTAL_HOST: z.string().min(1).default('127.0.0.1'),
  /** Port the portal's server (src/main.ts) listens on. */
  PORTAL_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Session lifetime in hours. */
  SESSION_TTL_HOURS: z.coerce.number().int().positive().default(12),
  /**
   * Comma-separated CIDRs (or addresses) of the proxies in front of the portal whose
   * X-Forwarded-For/-Proto are believed (the gateway's rule). Default none: the socket peer is
   * the client. Behind a proxy that is not listed, every client shares the proxy's address.
   */
  PORTAL_TRUSTED_PROXIES: trustedProxiesVar,
  /** Failed sign-ins per address and account before each further attempt must wait. */
  SIGN_IN_FREE_FAILURES: z.coerce.number().int().positive().default(5),
  /** Failed sign-ins per address, over all accounts, before each further attempt must wait. */
  SIGN_IN_ADDRESS_FREE_FAILURES: z.coerce.number().int().positive().default(20),
  /** Quiet minutes after which one counted sign-in failure is forgiven. */
  SIGN_IN_FORGIVE_MINUTES: z.coerce.number().positive().default(60),
  /** Sign-ups per address before each further one must wait. */
  SIGN_UP_FREE_PER_ADDRESS: z.coerce.number().int().positive().default(20),
  /** Quiet minutes after which one counted sign-up is forgiven. */
  SIGN_UP_FORGIVE_MINUTES: z.coerce.number().positive().default(3),
  /** First wait once the free attempts are used, in seconds; it doubles with each further attempt. */
  AUTH_DELAY_BASE_SECONDS: z.coerce.number().positive().default(30),
  /** Longest wait between attempts, in seconds. */
  AUTH_DELAY_MAX_SECONDS: z.coerce.number().positive().default(3600),
  /** Password hashes (scrypt, 128 MiB each) computed at once by one portal process. */
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().positive().max(64).default(2),
  /** Sign-ins and sign-ups allowed to wait for a hashing slot; beyond it they are refused (busy). */
  PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).max(1000).default(16),
  /** Timeout for calls to metering and billing, in milliseconds. */
  SERVICE_TIMEOUT_MS: z.coerce.number().int().positive().default(4000),
});
export type PortalConfig = z.infer<typeof PortalConfigSchema>;

let cached: PortalConfig | undefined;

export function getConfig(): PortalConfig {
  cached ??= parseConfig(PortalConfigSchema, process.env);
  return cached;
}

/**
 * The portal's server runs the production build: React and Next read NODE_ENV when they load,
 * so main.ts sets it before importing Next (as `next start` does).
 */
export function setProductionMode(): void {
  (process.env as Record<string, string | undefined>).NODE_ENV ??= 'production';
}
