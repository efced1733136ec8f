import type { Clock, LimitDecision, Limiter, LimitRequest } from '../ports.ts';
import { quotaPeriodId, systemClock } from '../ports.ts';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * In-memory twin of the Redis limiter with the same semantics: a token bucket for the rate and
 * a counter per quota period, decided together so a refused request consumes neither.
 * Also the gateway's per-instance fallback when Redis is down and the plan fails open.
 */
export class MemoryLimiter implements Limiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly counters = new Map<string, number>();

  constructor(private readonly clock: Clock = systemClock) {}

  async check(req: LimitRequest): Promise<LimitDecision> {
    return this.checkSync(req);
  }

  checkSync(req: LimitRequest): LimitDecision {
    const now = req.now ?? this.clock.now();
    let quotaKey: string | null = null;
    let used = 0;
    if (req.quota !== null) {
      quotaKey = `${req.subject}:q:${quotaPeriodId(req.quota.periodStart)}`;
      used = this.counters.get(quotaKey) ?? 0;
      if (used + req.cost > req.quota.limit) {
        return {
          allowed: false,
          limitedBy: 'quota',
          quotaRemaining: Math.max(0, req.quota.limit - used),
          quotaResetMs: req.quota.periodEnd - now,
          rateRemaining: null,
          retryAfterMs: req.quota.periodEnd - now,
        };
      }
    }
    let tokens: number | null = null;
    let bucketKey: string | null = null;
    if (req.rate !== null) {
      bucketKey = `${req.rateSubject ?? req.subject}:r`;
      const b = this.buckets.get(bucketKey) ?? { tokens: req.rate.burst, updatedAt: now };
      tokens = Math.min(req.rate.burst, b.tokens + ((now - b.updatedAt) / 1000) * req.rate.perSecond);
      if (tokens < req.cost) {
        this.buckets.set(bucketKey, { tokens, updatedAt: now });
        return {
          allowed: false,
          limitedBy: 'rate',
          quotaRemaining: req.quota === null ? null : req.quota.limit - used,
          quotaResetMs: req.quota === null ? null : req.quota.periodEnd - now,
          rateRemaining: Math.floor(tokens),
          retryAfterMs: Math.ceil(((req.cost - tokens) / req.rate.perSecond) * 1000),
        };
      }
      tokens -= req.cost;
      this.buckets.set(bucketKey, { tokens, updatedAt: now });
    }
    if (quotaKey !== null) this.counters.set(quotaKey, used + req.cost);
    return {
      allowed: true,
      limitedBy: null,
      quotaRemaining: req.quota === null ? null : req.quota.limit - used - req.cost,
      quotaResetMs: req.quota === null ? null : req.quota.periodEnd - now,
      rateRemaining: tokens === null ? null : Math.floor(tokens),
      retryAfterMs: null,
    };
  }

  async refund(req: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>): Promise<void> {
    if (req.quota === null) return;
    const key = `${req.subject}:q:${quotaPeriodId(req.quota.periodStart)}`;
    const used = this.counters.get(key) ?? 0;
    this.counters.set(key, Math.max(0, used - req.cost));
  }
}
