import type { UsageEventV1 } from './usage-event.ts';

/**
 * Ports: what the domain needs from the outside world. Adapters live in packages/kafka,
 * packages/clickhouse, packages/redis, packages/stripe and packages/db; the in-memory twins in
 * ./memory are for unit tests and never ship as a production adapter.
 */

/** Publishes usage events. `publish` must never block the request path. */
export interface UsageEventSink {
  publish(event: UsageEventV1): void;
  /** Resolves once every event accepted so far is durable (broker or spool). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The name of a quota period's counter: the UTC day its period starts on. A subscription's
 * periods never start twice on one day, and an anchor that moves within its day keeps the
 * counter: billing first anchors a new subscription at the moment it learns of it, then at
 * Stripe's billing_cycle_anchor (whole seconds, a little earlier), and requests in between must
 * not start a fresh quota.
 */
export function quotaPeriodId(periodStart: number): number {
  return Math.floor(periodStart / 86_400_000);
}

export interface LimitRequest {
  /**
   * Whose quota this is: the consumer (its subscription's quota is one per consumer, however
   * many keys it has). Namespaces the quota counter, and the token bucket unless `rateSubject`
   * is set.
   */
  subject: string;
  /**
   * Whose token bucket: a plan with limitScope 'key' rates each API key on its own; absent, the
   * bucket is the subject's. Never splits the quota.
   */
  rateSubject?: string;
  cost: number;
  now: number;
  quota: { limit: number; periodStart: number; periodEnd: number } | null;
  rate: { perSecond: number; burst: number } | null;
}

export interface LimitDecision {
  allowed: boolean;
  /** Which limit refused the request, when one did. */
  limitedBy: 'quota' | 'rate' | null;
  quotaRemaining: number | null;
  quotaResetMs: number | null;
  rateRemaining: number | null;
  /** Milliseconds until a retry could succeed, when refused. */
  retryAfterMs: number | null;
}

/** Decides every limit for one request atomically: a request refused by one limit consumes none. */
export interface Limiter {
  /**
   * A decision made from what the limiter holds (a quota lease, a rate share) comes back
   * synchronously, with nothing allocated but the decision; one that needs the shared store
   * comes back as a promise. Callers handle both (`isPromiseLike`).
   */
  check(req: LimitRequest): LimitDecision | Promise<LimitDecision>;
  /** Gives back units for a request that turned out not to count (upstream 5xx by default). */
  refund(req: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>): Promise<void>;
  /** At shutdown: gives back whatever the limiter holds (leased units) and stops its timers. */
  close?(): Promise<void>;
}

/** True for a promise (or any thenable): a `Limiter.check` answer that is not decided yet. */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown }).then === 'function';
}

export interface UsageTotalsQuery {
  consumerId: string;
  from: Date;
  to: Date;
}

export interface UsageTotals {
  requests: number;
  billableUnits: number;
  errors: number;
}

export interface UsageReader {
  totals(q: UsageTotalsQuery): Promise<UsageTotals>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
