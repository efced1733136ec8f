import { createHash } from 'node:crypto';
import { type LimitDecision, type Limiter, type LimitRequest, TollgateError } from '@tollgate/core';
import type { Redis } from 'ioredis';
import { LIMIT_SCRIPT, REFUND_SCRIPT } from './limiter-script.ts';

/**
 * RedisLimiter: the gateway's plan enforcement, shared by every gateway process.
 *
 * Guarantees:
 * - One request = one Redis round trip = one atomic Lua script (EVALSHA, loaded with ioredis
 *   `defineCommand`, which falls back to EVAL once on NOSCRIPT, e.g. after a Redis restart). The
 *   quota counter and the token bucket are decided together: a request refused by one limit
 *   consumes none of the other.
 * - Same semantics as MemoryLimiter (core), checked by a model test on generated sequences.
 * - The token bucket refills by the Redis server clock (`TIME`), so processes with skewed clocks
 *   agree; the caller's `now` is used only for the quota period (its key and its reset time).
 * - Never applied twice: the client must be built by `createRedis` (no offline queue, no resend
 *   of unfulfilled commands on reconnect, `maxRetriesPerRequest: 0`). A command that was written
 *   to the socket before a disconnect is failed, not replayed on the new connection, so a script
 *   that Redis may already have run is never run a second time. The price: such a request gets a
 *   LimiterUnavailableError although Redis may have counted it (at most once).
 * - Every check is bounded by `timeoutMs` (a local deadline on top of the client's command
 *   timeout, which also covers the NOSCRIPT→EVAL fallback). Any Redis failure — connection down,
 *   timeout, script error — rejects with LimiterUnavailableError; the gateway maps it to the
 *   plan's failure policy (fail open on a local limiter, or fail closed with 503).
 * - `refund` gives quota units back in one call, never below zero; the rate is not refunded
 *   (the upstream did the work).
 *
 * Keys (hash-tagged by subject, so a Redis Cluster keeps one subject's keys in one slot):
 *   `${keyPrefix}{${subject}}:q:${periodStart}` quota counter, expires at period end + slack
 *   `${keyPrefix}{${subject}}:r`                token bucket, expires once it would be full again
 */

export class LimiterUnavailableError extends TollgateError {
  constructor(message: string, cause?: unknown) {
    super('unavailable', 'LIMITER_UNAVAILABLE', message, { retryable: true, cause });
    this.name = 'LimiterUnavailableError';
  }
}

export function isLimiterUnavailable(err: unknown): err is LimiterUnavailableError {
  return err instanceof LimiterUnavailableError;
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
}

/** Test-only hook: drive the token bucket by an explicit clock instead of Redis TIME. */
export interface CheckOptions {
  rateNowMs?: number;
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

function defineScript(redis: Redis, base: string, lua: string, numberOfKeys: number): ScriptFn {
  const sha = createHash('sha1').update(lua).digest('hex');
  const name = `${base}_${sha.slice(0, 12)}`;
  const commands = redis as unknown as Record<string, ScriptFn | undefined>;
  if (typeof commands[name] !== 'function') redis.defineCommand(name, { numberOfKeys, lua });
  const fn = commands[name];
  if (fn === undefined) throw new Error(`ioredis did not define ${name}`);
  return fn.bind(redis);
}

type ScriptReply = [number, string, string, string, string];

export class RedisLimiter implements Limiter {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly quotaSlackMs: number;
  private readonly bucketSlackMs: number;
  private readonly limitCmd: ScriptFn;
  private readonly refundCmd: ScriptFn;

  constructor(opts: RedisLimiterOptions) {
    this.redis = opts.redis;
    this.prefix = opts.keyPrefix ?? 'tg:rl:';
    this.timeoutMs = opts.timeoutMs ?? 50;
    this.quotaSlackMs = opts.quotaSlackMs ?? 3_600_000;
    this.bucketSlackMs = opts.bucketSlackMs ?? 60_000;
    this.limitCmd = defineScript(this.redis, 'tgLimit', LIMIT_SCRIPT, 2);
    this.refundCmd = defineScript(this.redis, 'tgRefund', REFUND_SCRIPT, 1);
  }

  quotaKey(subject: string, periodStart: number): string {
    return `${this.prefix}{${subject}}:q:${periodStart}`;
  }

  bucketKey(subject: string): string {
    return `${this.prefix}{${subject}}:r`;
  }

  async check(req: LimitRequest, opts: CheckOptions = {}): Promise<LimitDecision> {
    if (!Number.isInteger(req.cost) || req.cost < 0) throw new RangeError('cost must be an integer >= 0');
    const now = req.now;
    const q = req.quota;
    const r = req.rate;
    const args: (string | number)[] = [
      this.quotaKey(req.subject, q === null ? 0 : q.periodStart),
      this.bucketKey(req.subject),
      req.cost,
      q === null ? -1 : q.limit,
      q === null ? 1 : Math.max(1, Math.ceil(q.periodEnd - now)) + this.quotaSlackMs,
      r === null ? -1 : r.perSecond,
      r === null ? 0 : r.burst,
      r === null || r.perSecond <= 0
        ? this.bucketSlackMs
        : Math.ceil((r.burst / r.perSecond) * 1000) + this.bucketSlackMs,
      opts.rateNowMs ?? -1,
    ];
    const reply = (await this.run(this.limitCmd, args, 'check')) as ScriptReply;
    const allowed = reply[0] === 1;
    const limitedBy = reply[1] === 'quota' ? 'quota' : reply[1] === 'rate' ? 'rate' : null;
    const used = Number(reply[2]);
    const tokens = reply[3] === '' ? null : Number(reply[3]);
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
    if (!allowed) throw new LimiterUnavailableError(`unexpected limiter reply ${JSON.stringify(reply)}`);
    return {
      allowed: true,
      limitedBy: null,
      quotaRemaining: q === null ? null : q.limit - used - req.cost,
      quotaResetMs,
      rateRemaining: tokens === null ? null : Math.floor(tokens),
      retryAfterMs: null,
    };
  }

  async refund(req: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>): Promise<void> {
    if (req.quota === null || req.cost <= 0) return;
    await this.run(this.refundCmd, [this.quotaKey(req.subject, req.quota.periodStart), req.cost], 'refund');
  }

  /** Runs one script call under the local deadline; every failure becomes LimiterUnavailableError. */
  private run(fn: ScriptFn, args: (string | number)[], what: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new LimiterUnavailableError(`redis limiter ${what} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      let pending: Promise<unknown>;
      try {
        pending = fn(...args);
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const msg = err instanceof Error ? err.message : String(err);
          reject(new LimiterUnavailableError(`redis limiter ${what} failed: ${msg}`, err));
        },
      );
    });
  }
}
