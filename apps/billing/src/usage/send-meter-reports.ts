import { classifyStripeError } from '@tollgate/stripe';
import type { BillingDeps } from '../deps.ts';
import { raiseDeadLetterAlert } from './dead-letter.ts';
import { backoffMs, type KeyedSerializer, sleep, type TokenBucket } from './rate-limiter.ts';
import { tooOldForStripe } from './windows.ts';

/**
 * Step 2 of usage reporting: deliver pending ledger rows as Stripe meter events.
 * - The event's identifier is the row's identifier. A retry after a lost response (or any
 *   resend) is refused by Stripe as a duplicate identifier, which we count as delivered. No
 *   Idempotency-Key is sent on purpose: Stripe caches a 500 under its key for 24 h, which would
 *   pin a retried row to the failure; the identifier is the dedup key. Stripe keeps identifiers
 *   only ~24 h, so the ledger (status sent) is what stops a resend after that.
 * - 429, 5xx, timeouts and connection errors are retried with exponential backoff and full
 *   jitter; after BILLING_STRIPE_MAX_ATTEMPTS the row stays pending for the next run.
 * - At most one call in flight per customer and meter; a global token bucket keeps the rate
 *   under Stripe's limit.
 * - Rows Stripe can no longer accept (35 days) or that it rejects as invalid: dead_letter + alert.
 */
export interface SendResult {
  sent: number;
  duplicates: number;
  deadLettered: number;
  stillPending: number;
  retries: number;
}

export interface SenderState {
  bucket: TokenBucket;
  serializer: KeyedSerializer;
  sleep?: (ms: number) => Promise<void>;
}

export async function sendMeterReports(
  deps: BillingDeps,
  state: SenderState,
  limit = 10_000,
): Promise<SendResult> {
  const { prisma, config } = deps;
  const rows = await prisma.meterReport.findMany({
    where: { status: 'pending' },
    orderBy: [{ windowStart: 'asc' }, { createdAt: 'asc' }],
    take: limit,
  });
  const result: SendResult = { sent: 0, duplicates: 0, deadLettered: 0, stillPending: 0, retries: 0 };
  if (rows.length === 0) return result;
  const subs = await prisma.subscription.findMany({
    where: { id: { in: [...new Set(rows.map((r) => r.subscriptionId))] } },
    include: { consumer: true },
  });
  const customerOf = new Map(subs.map((s) => [s.id, s.stripeCustomerId ?? s.consumer.stripeCustomerId]));
  const pause = state.sleep ?? sleep;

  const groups = new Map<string, typeof rows>();
  for (const row of rows) {
    const customer = customerOf.get(row.subscriptionId);
    if (customer === null || customer === undefined) {
      result.stillPending += 1;
      continue;
    }
    const key = `${customer}:${row.meter}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }

  const deliverOne = async (row: (typeof rows)[number], customer: string): Promise<void> => {
    let lastError = '';
    for (let attempt = 0; attempt < config.BILLING_STRIPE_MAX_ATTEMPTS; attempt++) {
      if (tooOldForStripe(row.windowStart, deps.now())) {
        await deadLetter(row, 'too_old: older than Stripe accepts for meter events (35 days)');
        return;
      }
      await state.bucket.acquire();
      try {
        await deps.stripe.billing.meterEvents.create({
          event_name: row.meter,
          identifier: row.identifier,
          timestamp: Math.floor(row.windowStart.getTime() / 1000),
          payload: { stripe_customer_id: customer, value: row.value.toString() },
        });
        await markSent(row, attempt + 1, null);
        result.sent += 1;
        deps.metrics.inc('tollgate_billing_meter_events_sent_total');
        return;
      } catch (err) {
        const kind = classifyStripeError(err);
        lastError = err instanceof Error ? err.message.slice(0, 500) : String(err);
        if (kind === 'duplicate') {
          await markSent(row, attempt + 1, 'duplicate identifier: Stripe already holds this window');
          result.duplicates += 1;
          deps.metrics.inc('tollgate_billing_meter_events_sent_total');
          return;
        }
        if (kind === 'fatal') {
          await deadLetter(row, `rejected: ${lastError}`);
          return;
        }
        result.retries += 1;
        deps.metrics.inc('tollgate_billing_meter_event_retries_total');
        if (attempt + 1 < config.BILLING_STRIPE_MAX_ATTEMPTS)
          await pause(backoffMs(attempt, config.BILLING_STRIPE_RETRY_BASE_MS));
      }
    }
    await prisma.meterReport.updateMany({
      where: { identifier: row.identifier, status: 'pending' },
      data: { attempts: { increment: config.BILLING_STRIPE_MAX_ATTEMPTS }, lastError },
    });
    result.stillPending += 1;
    deps.log.warn({ identifier: row.identifier, lastError }, 'meter event still pending after retries');
  };

  const markSent = (row: (typeof rows)[number], attempts: number, note: string | null) =>
    prisma.meterReport.updateMany({
      where: { identifier: row.identifier, status: 'pending' },
      data: { status: 'sent', sentAt: deps.now(), attempts: { increment: attempts }, lastError: note },
    });

  const deadLetter = async (row: (typeof rows)[number], reason: string) => {
    await prisma.meterReport.updateMany({
      where: { identifier: row.identifier, status: 'pending' },
      data: { status: 'dead_letter', lastError: reason, attempts: { increment: 1 } },
    });
    result.deadLettered += 1;
    await raiseDeadLetterAlert(deps, {
      identifier: row.identifier,
      subscriptionId: row.subscriptionId,
      windowStart: row.windowStart,
      value: row.value,
      reason,
    });
  };

  await Promise.all(
    [...groups].map(([key, groupRows]) =>
      state.serializer.run(key, async () => {
        const customer = key.slice(0, key.lastIndexOf(':'));
        for (const row of groupRows) await deliverOne(row, customer);
      }),
    ),
  );
  return result;
}
