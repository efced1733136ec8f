import type { PrismaClient } from '@tollgate/db';
import { type Dispatcher, fetch } from 'undici';
import { backoffDelay } from '../ingest/backoff.ts';
import type { Log } from '../log.ts';
import { SIGNATURE_HEADER, signWebhook } from './sign-webhook.ts';
import { webhookUrlProblem } from './webhook-dispatcher.ts';

/**
 * Delivers the usage_alerts outbox to each consumer's alert_webhook_url, signed with its
 * alert_webhook_secret (see sign-webhook.ts). At least once: an alert is claimed with a lease
 * (`next_attempt_at` pushed ahead under FOR UPDATE SKIP LOCKED, so replicas never send the same
 * alert concurrently), POSTed, then marked delivered on a 2xx; any other answer, a timeout or a
 * network error records the error and schedules the next attempt with exponential backoff, up
 * to `maxAttempts`. A process dying mid-send leaves the lease to expire and the alert is sent
 * again: receivers deduplicate by the `id` in the body (also sent as `Tollgate-Alert-Id`).
 * Alerts of consumers without a webhook URL and secret stay in the outbox (and in GET
 * /v1/alerts) until one is configured. Requests go through the SSRF-guarded dispatcher of
 * webhook-dispatcher.ts: no private, loopback or link-local destinations, no redirects.
 */
export const ALERT_EVENT_TYPE = 'usage.threshold_reached';

export interface DeliveryOptions {
  prisma: PrismaClient;
  /** createWebhookDispatcher(): resolves and checks webhook hosts. */
  dispatcher: Dispatcher;
  /** Skip the private-address check of IP-literal URLs too (local development only). */
  allowPrivateNetworks: boolean;
  log: Log;
  maxAttempts: number;
  timeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** How long a claimed alert is reserved for the sender. */
  leaseMs?: number;
  batchSize?: number;
  now?: () => Date;
}

interface ClaimedAlert {
  id: string;
  consumer_id: string;
  subscription_id: string;
  period_start: Date;
  threshold: number;
  used_units: bigint;
  quota: bigint;
  created_at: Date;
  attempts: number;
  alert_webhook_url: string;
  alert_webhook_secret: string;
}

export interface DeliveryResult {
  delivered: number;
  failed: number;
}

export async function deliverDueAlerts(opts: DeliveryOptions): Promise<DeliveryResult> {
  const leaseMs = opts.leaseMs ?? Math.max(60_000, opts.timeoutMs * 2);
  const batchSize = opts.batchSize ?? 50;
  const claimed = await opts.prisma.$queryRaw<ClaimedAlert[]>`
    WITH due AS (
      SELECT a.id FROM usage_alerts a
      JOIN consumers c ON c.id = a.consumer_id
      WHERE a.delivered_at IS NULL AND a.next_attempt_at <= now() AND a.attempts < ${opts.maxAttempts}
        AND c.alert_webhook_url IS NOT NULL AND c.alert_webhook_secret IS NOT NULL
      ORDER BY a.next_attempt_at
      LIMIT ${batchSize}
      FOR UPDATE OF a SKIP LOCKED
    )
    UPDATE usage_alerts a SET next_attempt_at = now() + make_interval(secs => ${leaseMs / 1000})
    FROM due, consumers c
    WHERE a.id = due.id AND c.id = a.consumer_id
    RETURNING a.id, a.consumer_id, a.subscription_id, a.period_start, a.threshold, a.used_units, a.quota,
      a.created_at, a.attempts, c.alert_webhook_url, c.alert_webhook_secret`;

  /** One signed POST; null on a 2xx, else what went wrong. */
  async function post(
    id: string,
    url: string,
    secret: string,
    body: string,
    now: Date,
  ): Promise<string | null> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'tollgate-metering',
          'tollgate-alert-id': id,
          [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(now.getTime() / 1000)),
        },
        body,
        redirect: 'manual',
        dispatcher: opts.dispatcher,
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      await response.body?.cancel();
      return response.status >= 200 && response.status < 300 ? null : `HTTP ${response.status}`;
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      return cause instanceof Error ? `${(err as Error).message}: ${cause.message}` : String(err);
    }
  }

  const result: DeliveryResult = { delivered: 0, failed: 0 };
  await Promise.all(
    claimed.map(async (alert) => {
      const body = JSON.stringify({
        id: alert.id,
        type: ALERT_EVENT_TYPE,
        consumerId: alert.consumer_id,
        subscriptionId: alert.subscription_id,
        periodStart: alert.period_start.toISOString(),
        threshold: alert.threshold,
        usedUnits: Number(alert.used_units),
        quota: Number(alert.quota),
        createdAt: alert.created_at.toISOString(),
      });
      const now = opts.now?.() ?? new Date();
      let error = webhookUrlProblem(alert.alert_webhook_url, opts.allowPrivateNetworks);
      if (error === null) {
        error = await post(alert.id, alert.alert_webhook_url, alert.alert_webhook_secret, body, now);
      }
      if (error === null) {
        await opts.prisma.$executeRaw`
          UPDATE usage_alerts SET delivered_at = now(), attempts = attempts + 1, last_error = NULL
          WHERE id = ${alert.id}::uuid`;
        result.delivered += 1;
        return;
      }
      const delayMs = backoffDelay(alert.attempts + 1, opts.retryInitialMs, opts.retryMaxMs);
      await opts.prisma.$executeRaw`
        UPDATE usage_alerts SET attempts = attempts + 1, last_error = ${error.slice(0, 500)},
          next_attempt_at = now() + make_interval(secs => ${delayMs / 1000})
        WHERE id = ${alert.id}::uuid`;
      result.failed += 1;
      opts.log.warn(
        { alertId: alert.id, attempt: alert.attempts + 1, error, retryInMs: delayMs },
        'alert webhook failed',
      );
    }),
  );
  return result;
}
