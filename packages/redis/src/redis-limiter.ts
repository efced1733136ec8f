import { type LimitDecision, type Limiter, type LimitRequest, quotaPeriodId } from '@tollgate/core';
import type { Redis } from 'ioredis';
import { LIMIT_BATCH_SCRIPT, REFUND_SCRIPT } from './limiter-script.ts';
import { callScript, defineScript, LimiterUnavailableError, type ScriptFn } from './script-call.ts';

export { isLimiterUnavailable, LimiterUnavailableError } from './script-call.ts';

/**
 * RedisLimiter: the gateway's plan enforcement, shared by every gateway process.
 *
 * Guarantees:
 * - One request = at most one Redis round trip = one atomic Lua script (EVALSHA, loaded with
 *   ioredis `defineCommand`, which falls back to EVAL once on NOSCRIPT, e.g. after a Redis
 *   restart). The quota counter and the token bucket are decided together: a request refused by
 *   one limit consumes none of the other.
 * - Batched: the checks made in one event-loop turn go to Redis as ONE script call (flushed by
 *   setImmediate, i.e. before the loop waits for I/O again, so nothing waits a turn), up to
 *   `maxBatch` requests each. The script decides them one after another, each exactly as alone;
 *   the batch only saves the per-command cost (one socket write, one reply, one timer) that
 *   dominated the gateway's Redis time. A batch spans several subjects, so the limiter needs
 *   one Redis primary (not Redis Cluster, whose scripts must stay in one hash slot).
 * - Same semantics as MemoryLimiter (core), checked by a model test on generated sequences.
 * - The token bucket refills by the Redis server clock (`TIME`), so processes with skewed clocks
 *   agree; the caller's `now` is used only for the quota period (its key and its reset time).
 * - Never applied twice: the client must be built by `createRedis` (no offline queue, no resend
 *   of unfulfilled commands on reconnect, `maxRetriesPerRequest: 0`). A command that was written
 *   to the socket before a disconnect is failed, not replayed on the new connection, so a script
 *   that Redis may already have run is never run a second time. The price: such a request gets a
 *   LimiterUnavailableError although Redis may have counted it (at most once).
 * - Every check is bounded by `timeoutMs`: a local deadline per script call, started when the
 *   call is written to the socket (not when the check was queued), which also covers the
 *   NOSCRIPT→EVAL fallback. It is blind to the caller's own loop lag: when its timer fires, the
 *   verdict waits for the loop's next I/O poll (setImmediate runs after it), so a reply that
 *   arrived while the loop was busy or stalled (the timers phase comes before the poll that
 *   reads it) is used, not refused. A reply still absent then really took longer than
 *   `timeoutMs` from the send. The client's own command timeout fires in the timers phase like
 *   any timer, so it must be a backstop well above `timeoutMs` (`limiterClientTimeoutMs`).
 *   Any Redis failure — connection down, timeout, script error — rejects every check of the
 *   call with LimiterUnavailableError; the gateway maps it to the plan's failure policy (fail
 *   open on a local limiter, or fail closed with 503).
 * - `refund` gives quota units back in one call, never below zero; the rate is not refunded
 *   (the upstream did the work).
 *
 * Keys (hash-tagged by subject, so a Redis Cluster keeps one subject's keys in one slot):
 *   `${keyPrefix}{${subject}}:q:${quotaPeriodId(periodStart)}` quota counter (named by the UTC day
 *   its period starts on), expires at period end + slack
 *   `${keyPrefix}{${rateSubject ?? subject}}:r` token bucket, expires once it would be full again
 * The quota is always the subject's (the consumer's); `rateSubject` (an API key, for plans that
 * rate each key) scopes the bucket only.
 */

/**
 * The command timeout for the limiter's Redis client (`createRedis({ commandTimeoutMs })`): a
 * backstop that only frees commands whose reply never comes. ioredis' timer fires in the timers
 * phase, before the poll that would read a reply that arrived during a stall, so it must sit
 * well above the limiter's own deadline, which knows to wait for that poll.
 */
export function limiterClientTimeoutMs(limiterTimeoutMs: number): number {
  return Math.max(1_000, 20 * limiterTimeoutMs);
}

export interface RedisLimiterOptions {
  /** A client from `createRedis` (its offline-queue and resend settings are part of the guarantee). */
  redis: Redis;
  /** Prefix of every key this limiter writes. Default 'tg:rl:'. Tests isolate by prefix. */
  keyPrefix?: string;
  /** Upper bound on one check or refund, in ms. Default 50. */
  timeoutMs?: number;
  /** Extra lifetime of a quota counter after its period ends, in ms. Default 1 hour. */
  quotaSlackMs?: number;
  /** Extra lifetime of a token bucket after it would be full again, in ms. Default 60 s. */
  bucketSlackMs?: number;
  /** Most checks decided by one script call. Default 128. */
  maxBatch?: number;
}

/** Test-only hook: drive the token bucket by an explicit clock instead of Redis TIME. */
export interface CheckOptions {
  rateNowMs?: number;
}

/** Values per request in the batch script's reply (see limiter-script.ts). */
const REPLY_WIDTH = 5;
/** ARGV entries per request. */
const ARGS_PER_CHECK = 7;

/** One check waiting for its batch's script call. */
interface PendingCheck {
  req: LimitRequest;
  rateNowMs: number;
  resolve: (d: LimitDecision) => void;
  reject: (err: unknown) => void;
}

export class RedisLimiter implements Limiter {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly quotaSlackMs: number;
  private readonly bucketSlackMs: number;
  private readonly maxBatch: number;
  private readonly limitCmd: ScriptFn;
  private readonly refundCmd: ScriptFn;
  private queue: PendingCheck[] = [];
  private flushScheduled = false;
  /** Script calls sent (checks in batches, refunds): the bench's Redis calls per request. */
  private redisCalls = 0;

  constructor(opts: RedisLimiterOptions) {
    this.redis = opts.redis;
    this.prefix = opts.keyPrefix ?? 'tg:rl:';
    this.timeoutMs = opts.timeoutMs ?? 50;
    this.quotaSlackMs = opts.quotaSlackMs ?? 3_600_000;
    this.bucketSlackMs = opts.bucketSlackMs ?? 60_000;
    this.maxBatch = Math.max(1, opts.maxBatch ?? 128);
    // numberOfKeys null: the call passes its key count first (2 per request in the batch).
    this.limitCmd = defineScript(this.redis, 'tgLimitBatch', LIMIT_BATCH_SCRIPT, null);
    this.refundCmd = defineScript(this.redis, 'tgRefund', REFUND_SCRIPT, 1);
  }

  /** Counters since start (the gateway exports them as metrics). */
  stats(): { redisCalls: number } {
    return { redisCalls: this.redisCalls };
  }

  quotaKey(subject: string, periodStart: number): string {
    return `${this.prefix}{${subject}}:q:${quotaPeriodId(periodStart)}`;
  }

  bucketKey(subject: string): string {
    return `${this.prefix}{${subject}}:r`;
  }

  check(req: LimitRequest, opts: CheckOptions = {}): Promise<LimitDecision> {
    if (!Number.isInteger(req.cost) || req.cost < 0) {
      return Promise.reject(new RangeError('cost must be an integer >= 0'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ req, rateNowMs: opts.rateNowMs ?? -1, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  /** Sends the queued checks, `maxBatch` per script call. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const all = this.queue;
    this.queue = [];
    for (let from = 0; from < all.length; from += this.maxBatch) {
      const batch = from === 0 && all.length <= this.maxBatch ? all : all.slice(from, from + this.maxBatch);
      this.send(batch);
    }
  };

  private send(batch: PendingCheck[]): void {
    const n = batch.length;
    // [numkeys, 2 keys per check..., 7 args per check...]
    const args: (string | number)[] = new Array(1 + n * (2 + ARGS_PER_CHECK));
    args[0] = 2 * n;
    let a = 1 + 2 * n;
    for (let i = 0; i < n; i++) {
      const { req, rateNowMs } = batch[i]!;
      const q = req.quota;
      const r = req.rate;
      args[1 + 2 * i] = this.quotaKey(req.subject, q === null ? 0 : q.periodStart);
      args[2 + 2 * i] = this.bucketKey(req.rateSubject ?? req.subject);
      args[a++] = req.cost;
      args[a++] = q === null ? -1 : q.limit;
      args[a++] = q === null ? 1 : Math.max(1, Math.ceil(q.periodEnd - req.now)) + this.quotaSlackMs;
      args[a++] = r === null ? -1 : r.perSecond;
      args[a++] = r === null ? 0 : r.burst;
      args[a++] =
        r === null || r.perSecond <= 0
          ? this.bucketSlackMs
          : Math.ceil((r.burst / r.perSecond) * 1000) + this.bucketSlackMs;
      args[a++] = rateNowMs;
    }
    this.run(this.limitCmd, args, n === 1 ? 'check' : `check (batch of ${n})`).then(
      (reply) => {
        const values = reply as unknown[];
        if (!Array.isArray(values) || values.length !== n * REPLY_WIDTH) {
          const err = new LimiterUnavailableError('unexpected limiter reply shape');
          for (let i = 0; i < n; i++) batch[i]!.reject(err);
          return;
        }
        for (let i = 0; i < n; i++) {
          const p = batch[i]!;
          try {
            p.resolve(decide(p.req, values, i * REPLY_WIDTH));
          } catch (err) {
            p.reject(err);
          }
        }
      },
      (err: unknown) => {
        for (let i = 0; i < n; i++) batch[i]!.reject(err);
      },
    );
  }

  async refund(req: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>): Promise<void> {
    if (req.quota === null || req.cost <= 0) return;
    await this.run(this.refundCmd, [this.quotaKey(req.subject, req.quota.periodStart), req.cost], 'refund');
  }

  /** Runs one script call under the local deadline; every failure becomes LimiterUnavailableError. */
  private run(fn: ScriptFn, args: (string | number)[], what: string): Promise<unknown> {
    this.redisCalls++;
    return callScript(fn, args, this.timeoutMs, `redis limiter ${what}`);
  }
}

/** One request's decision from its 5 values at `at` in the batch reply. */
function decide(req: LimitRequest, reply: unknown[], at: number): LimitDecision {
  const now = req.now;
  const q = req.quota;
  const r = req.rate;
  const allowed = reply[at] === 1;
  const by = reply[at + 1];
  const limitedBy = by === 'quota' ? 'quota' : by === 'rate' ? 'rate' : null;
  const used = Number(reply[at + 2]);
  const tokensRaw = reply[at + 3];
  const tokens = tokensRaw === '' ? null : Number(tokensRaw);
  const quotaResetMs = q === null ? null : q.periodEnd - now;
  if (limitedBy === 'quota' && q !== null) {
    return {
      allowed: false,
      limitedBy,
      quotaRemaining: Math.max(0, q.limit - used),
      quotaResetMs,
      rateRemaining: null,
      retryAfterMs: q.periodEnd - now,
    };
  }
  if (limitedBy === 'rate' && r !== null && tokens !== null) {
    return {
      allowed: false,
      limitedBy,
      quotaRemaining: q === null ? null : q.limit - used,
      quotaResetMs,
      rateRemaining: Math.floor(tokens),
      retryAfterMs: Math.ceil(((req.cost - tokens) / r.perSecond) * 1000),
    };
  }
  if (!allowed) {
    throw new LimiterUnavailableError(
      `unexpected limiter reply ${JSON.stringify(reply.slice(at, at + REPLY_WIDTH))}`,
    );
  }
  return {
    allowed: true,
    limitedBy: null,
    quotaRemaining: q === null ? null : q.limit - used - req.cost,
    quotaResetMs,
    rateRemaining: tokens === null ? null : Math.floor(tokens),
    retryAfterMs: null,
  };
}
