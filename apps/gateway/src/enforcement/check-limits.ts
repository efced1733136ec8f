import type { LimitDecision, Limiter, LimitRequest } from '@tollgate/core';
import type { Logger } from 'pino';
import type { CounterCell } from '../metric-cells.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { defineProblem, type Problem, RETRY_AFTER_FROM_RECORD } from '../problem.ts';
import type { RequestRecord } from '../request-record.ts';
import { refreshPeriod } from './rate-limit-headers.ts';

const QUOTA_EXCEEDED = defineProblem({
  status: 429,
  code: 'QUOTA_EXCEEDED',
  detail: 'The plan quota for this period is used up.',
  limit: 'quota',
  retryAfterS: RETRY_AFTER_FROM_RECORD,
});
const RATE_LIMITED = defineProblem({
  status: 429,
  code: 'RATE_LIMITED',
  detail: 'Too many requests per second for this plan.',
  limit: 'rate',
  retryAfterS: RETRY_AFTER_FROM_RECORD,
});

export interface CheckLimitsDeps {
  limiter: Limiter;
  /** Per-instance limiter used when the limiter fails and the plan fails open. */
  fallbackLimiter: Limiter;
  metrics: GatewayMetrics;
  logger: Logger;
  failClosedRetryAfterS: number;
}

/** Null: admitted; else the refusal; or a promise of one of the two. */
export type LimitsChecked = Problem | null | Promise<Problem | null>;

/**
 * A decision either limiter may return: synchronously (a leased block of units decides
 * locally) or as a promise (a Redis round trip). Both limiter ports are assignable to it.
 */
type DecisionOrPromise = LimitDecision | Promise<LimitDecision>;

/** At most one log line per minute for limiter failures (each is counted). */
const FAILURE_LOG_INTERVAL_MS = 60_000;

/**
 * Limits: one `Limiter.check` per request for the quota and the rate together (route cost as
 * units, the consumer's quota, the key's or consumer's bucket). A synchronous decision is used
 * as it comes, with no promise or closure; a promised one continues when it settles. A limiter
 * failure follows the plan: fail_closed answers 503 LIMITER_UNAVAILABLE, fail_open decides on the
 * per-instance fallback limiter. Timeouts are counted apart (they should not happen: a
 * saturated gateway sheds load before its own lag can make a limiter call late).
 */
export class LimitCheck {
  private readonly limiterUnavailable: Problem;
  private readonly allowed: CounterCell;
  private readonly byQuota: CounterCell;
  private readonly byRate: CounterCell;
  private readonly failOpen: CounterCell;
  private readonly failClosed: CounterCell;
  private readonly timeoutRefused: CounterCell;
  private readonly timeoutFailOpen: CounterCell;
  private failureLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: CheckLimitsDeps) {
    this.limiterUnavailable = defineProblem({
      status: 503,
      code: 'LIMITER_UNAVAILABLE',
      detail: 'Usage limits cannot be checked right now.',
      retryAfterS: deps.failClosedRetryAfterS,
    });
    const m = deps.metrics;
    this.allowed = m.limiterDecisions.labels('allowed');
    this.byQuota = m.limiterDecisions.labels('quota');
    this.byRate = m.limiterDecisions.labels('rate');
    this.failOpen = m.limiterDecisions.labels('fail_open');
    this.failClosed = m.limiterDecisions.labels('fail_closed');
    this.timeoutRefused = m.limiterTimeouts.labels('503');
    this.timeoutFailOpen = m.limiterTimeouts.labels('fail_open');
  }

  check(r: RequestRecord): LimitsChecked {
    const sub = r.sub!;
    const plan = r.plan!;
    refreshPeriod(sub, plan, r.startMs);
    const p = plan.plan;
    // The quota is the consumer's (one subscription, however many keys); limitScope 'key' gives
    // each key its own token bucket only. The rateSubject field is always present (one shape).
    const subject = `c:${r.consumerId}`;
    const req: LimitRequest = {
      subject,
      rateSubject: p.limitScope === 'key' && r.keyId !== null ? `k:${r.keyId}` : subject,
      cost: r.route!.cost,
      now: r.startMs,
      quota: sub.quota,
      rate: p.rateLimitPerSecond === null ? null : { perSecond: p.rateLimitPerSecond, burst: p.burst ?? 1 },
    };
    r.limit = req;
    const limiter = this.deps.limiter;
    let d: DecisionOrPromise;
    try {
      d = limiter.check(req);
    } catch (err) {
      return this.failed(r, err);
    }
    if (d instanceof Promise) {
      return d.then(
        (decision) => this.decided(r, decision, limiter),
        (err: unknown) => this.failed(r, err),
      );
    }
    return this.decided(r, d, limiter);
  }

  private failed(r: RequestRecord, err: unknown): LimitsChecked {
    const m = this.deps.metrics;
    m.redisErrors.inc();
    const timedOut = isTimeout(err);
    this.logFailure(err);
    if (r.plan!.plan.redisFailurePolicy === 'fail_closed') {
      this.failClosed.inc();
      if (timedOut) this.timeoutRefused.inc();
      return this.limiterUnavailable;
    }
    if (timedOut) this.timeoutFailOpen.inc();
    const fallback = this.deps.fallbackLimiter;
    const d: DecisionOrPromise = fallback.check(r.limit!);
    if (d instanceof Promise) return d.then((decision) => this.decided(r, decision, fallback));
    return this.decided(r, d, fallback);
  }

  private decided(r: RequestRecord, d: LimitDecision, limiter: Limiter): Problem | null {
    r.decision = d;
    r.limiterUsed = limiter;
    if (!d.allowed) {
      const byQuota = d.limitedBy === 'quota';
      (byQuota ? this.byQuota : this.byRate).inc();
      r.retryAfterS = Math.max(1, Math.ceil((d.retryAfterMs ?? 1000) / 1000));
      return byQuota ? QUOTA_EXCEEDED : RATE_LIMITED;
    }
    if (limiter === this.deps.limiter) this.allowed.inc();
    else {
      this.failOpen.inc();
      this.deps.metrics.failOpenAdmitted.inc();
    }
    r.admitted = true;
    return null;
  }

  private logFailure(err: unknown): void {
    const now = Date.now();
    if (now - this.failureLoggedAt < FAILURE_LOG_INTERVAL_MS) return;
    this.failureLoggedAt = now;
    this.deps.logger.warn({ err }, 'limiter call failed (counted in tollgate_gateway_redis_errors_total)');
  }
}

/**
 * A limiter call that ran out of time: the limiter's own deadline or the Redis client's command
 * timeout. An error may say so with `timedOut: true`; otherwise its message does.
 */
export function isTimeout(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { timedOut?: unknown; message?: unknown; cause?: unknown };
  if (e.timedOut === true) return true;
  if (typeof e.message === 'string' && /timed out/i.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && isTimeout(e.cause);
}
