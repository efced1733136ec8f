import { parseConfig, postgresEnv, z } from '@tollgate/config';

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
  /** Port `next start` listens on (used by package.json's start script and the tests). */
  PORTAL_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Session lifetime in hours. */
  SESSION_TTL_HOURS: z.coerce.number().int().positive().default(12),
  /** Failed sign-ins allowed per email and per IP within SIGN_IN_WINDOW_MINUTES before refusing. */
  SIGN_IN_MAX_FAILURES: z.coerce.number().int().positive().default(5),
  /** Window of the sign-in rate limit, in minutes. */
  SIGN_IN_WINDOW_MINUTES: z.coerce.number().int().positive().default(15),
  /** Timeout for calls to metering and billing, in milliseconds. */
  SERVICE_TIMEOUT_MS: z.coerce.number().int().positive().default(4000),
});
export type PortalConfig = z.infer<typeof PortalConfigSchema>;

let cached: PortalConfig | undefined;

export function getConfig(): PortalConfig {
  cached ??= parseConfig(PortalConfigSchema, process.env);
  return cached;
}
