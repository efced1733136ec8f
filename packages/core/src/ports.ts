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

export interface LimitRequest {
  /** Key prefix that namespaces counters (per consumer or per key). */
  subject: string;
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
  check(req: LimitRequest): Promise<LimitDecision>;
  /** Gives back units for a request that turned out not to count (upstream 5xx by default). */
  refund(req: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>): Promise<void>;
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
