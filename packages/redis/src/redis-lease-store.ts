import {
  DEFAULT_LEASE_POLICY,
  type LeaseCall,
  type LeaseNotice,
  type LeasePolicy,
  type LeaseReply,
  type LeaseStore,
} from '@tollgate/core';
import type { Redis } from 'ioredis';
import { LEASE_SCRIPT } from './lease-script.ts';
import { REFUND_SCRIPT } from './limiter-script.ts';
import { callScript, defineScript, LimiterUnavailableError, type ScriptFn } from './script-call.ts';

/**
 * RedisLeaseStore: the LeaseStore every gateway's LeasingLimiter shares.
 *
 * - One `run` = one EVALSHA (NOSCRIPT → EVAL fallback by ioredis) = one round trip: the script
 *   (lease-script.ts) applies the call's ops in order as one atomic step, exactly as
 *   MemoryLeaseStore does (the contract test runs the same suite and generated calls on both).
 *   One `refund` = one more. Calls are not batched across `run`s: the limiter already gathers
 *   an event-loop turn's ops into one call.
 * - Time: the call's `nowMs`, or the Redis server clock (TIME, once per call) so every gateway
 *   sees one clock for lease and share expiry.
 * - Never applied twice, bounded wait: a client from `createRedis` (no offline queue, no resend)
 *   and a local deadline of `timeoutMs` per call; any failure rejects with
 *   LimiterUnavailableError, and the call may or may not have been applied (as the port says).
 * - Notices: the script PUBLISHes them on `${keyPrefix}lease-notices`; a `subscriber`
 *   connection delivers them to `listen`ers. Pub/sub is at most once: a notice published while
 *   the subscriber is reconnecting is lost (the limiter's waits are bounded by its own deadline).
 * - Keys: the quota counter is RedisLimiter's (`{subject}:q:<periodId>`, same default prefix), so
 *   a fleet mixing both limiters counts one quota; `{subject}:l:<periodId>` holds the period's
 *   leases, `{rateSubject}:r` the bucket (RedisLimiter's fields plus the shares). A call spans
 *   several subjects: one Redis primary, not Redis Cluster.
 */
export interface RedisLeaseStoreOptions {
  /** A client from `createRedis` (its offline-queue and resend settings are part of the guarantee). */
  redis: Redis;
  /** A second client from `createRedis`, given over to pub/sub; without it `listen` throws. */
  subscriber?: Redis;
  /** Prefix of every key and of the notice channel. Default 'tg:rl:' (RedisLimiter's). */
  keyPrefix?: string;
  /** Upper bound on one call, in ms. Default 50. */
  timeoutMs?: number;
  /** The same on every gateway. */
  policy?: LeasePolicy;
  /** A subscription that failed or a notice that did not parse (counted by the caller). */
  onNoticeError?: (err: Error) => void;
}

const OUTCOMES = new Set(['allowed', 'quota', 'rate', 'wait']);

export class RedisLeaseStore implements LeaseStore {
  private readonly redis: Redis;
  private readonly subscriber: Redis | null;
  private readonly prefix: string;
  private readonly channel: string;
  private readonly timeoutMs: number;
  private readonly policyArgs: [string, string, string];
  private readonly leaseCmd: ScriptFn;
  private readonly refundCmd: ScriptFn;
  private readonly onNoticeError: (err: Error) => void;
  private readonly listeners: ((notice: LeaseNotice) => void)[] = [];
  private readonly subscribedOnce: Promise<void>;
  private callCount = 0;
  /** Failed subscriptions and unparsable notices (without an `onNoticeError`, the first is logged). */
  noticeErrors = 0;

  constructor(opts: RedisLeaseStoreOptions) {
    this.redis = opts.redis;
    this.subscriber = opts.subscriber ?? null;
    this.prefix = opts.keyPrefix ?? 'tg:rl:';
    this.channel = `${this.prefix}lease-notices`;
    this.timeoutMs = opts.timeoutMs ?? 50;
    const policy = opts.policy ?? DEFAULT_LEASE_POLICY;
    this.policyArgs = [String(policy.quotaDivisor), String(policy.rateDivisor), String(policy.reclaimHoldMs)];
    this.leaseCmd = defineScript(this.redis, 'tgLease', LEASE_SCRIPT, null);
    this.refundCmd = defineScript(this.redis, 'tgRefund', REFUND_SCRIPT, 1);
    this.onNoticeError = opts.onNoticeError ?? this.logFirstNoticeError;
    this.subscribedOnce = this.subscriber === null ? Promise.resolve() : this.subscribe(this.subscriber);
  }

  quotaKey(subject: string, periodId: number): string {
    return `${this.prefix}{${subject}}:q:${periodId}`;
  }

  leaseKey(subject: string, periodId: number): string {
    return `${this.prefix}{${subject}}:l:${periodId}`;
  }

  bucketKey(rateSubject: string): string {
    return `${this.prefix}{${rateSubject}}:r`;
  }

  /** Resolves once notices are subscribed to (boot and tests); at once without a subscriber. */
  listening(): Promise<void> {
    return this.subscribedOnce;
  }

  run(call: LeaseCall): Promise<LeaseReply[]> {
    this.callCount += 1;
    const ops = call.ops;
    let numKeys = 0;
    for (const op of ops) numKeys += op.kind === 'decide' ? 3 : op.kind === 'quota-lease' ? 2 : 1;
    // [numkeys, keys..., now, holder, 3 policy values, channel, op fields...]
    const args: (string | number)[] = [numKeys];
    for (const op of ops) {
      if (op.kind === 'decide') {
        const q = op.quota;
        const b = this.bucketKey(op.rateSubject);
        if (q === null) args.push(b, b, b);
        else args.push(this.quotaKey(op.subject, q.periodId), this.leaseKey(op.subject, q.periodId), b);
      } else if (op.kind === 'quota-lease') {
        args.push(this.quotaKey(op.subject, op.quota.periodId), this.leaseKey(op.subject, op.quota.periodId));
      } else args.push(this.bucketKey(op.rateSubject));
    }
    args.push(call.nowMs === null ? '' : call.nowMs, call.holder, ...this.policyArgs, this.channel);
    for (const op of ops) {
      if (op.kind === 'decide') {
        const q = op.quota;
        const r = op.rate;
        args.push(
          'd',
          op.cost,
          op.mayWait ? 1 : 0,
          q === null ? -1 : q.limit,
          q === null ? 0 : q.periodId,
          q === null ? 1 : ttl(q.keyTtlMs),
          r === null ? -1 : r.perSecond,
          r === null ? 0 : r.burst,
          r === null ? 1 : ttl(r.keyTtlMs),
          op.subject,
        );
      } else if (op.kind === 'quota-lease') {
        const q = op.quota;
        args.push(
          'q',
          op.lease,
          op.granted,
          op.used,
          op.close ? 1 : 0,
          op.want,
          q.limit,
          q.periodId,
          ttl(q.keyTtlMs),
          op.leaseTtlMs,
          op.window,
          op.subject,
        );
      } else {
        const r = op.rate;
        args.push('r', op.keep, op.ret, op.want, r.perSecond, r.burst, ttl(r.keyTtlMs), op.shareTtlMs);
      }
    }
    const what = `redis lease store run (${ops.length} ops)`;
    return callScript(this.leaseCmd, args, this.timeoutMs, what).then((reply) => parseReplies(call, reply));
  }

  async refund(subject: string, periodId: number, cost: number): Promise<void> {
    this.callCount += 1;
    const args = [this.quotaKey(subject, periodId), cost];
    await callScript(this.refundCmd, args, this.timeoutMs, 'redis lease store refund');
  }

  listen(listener: (notice: LeaseNotice) => void): void {
    if (this.subscriber === null) throw new Error('RedisLeaseStore.listen needs a subscriber connection');
    this.listeners.push(listener);
  }

  calls(): number {
    return this.callCount;
  }

  private readonly logFirstNoticeError = (err: Error): void => {
    if (this.noticeErrors === 0)
      console.error(`redis lease store: ${err.message} (further ones counted only)`);
  };

  /**
   * Subscribes now if connected and again on every reconnect (ioredis would resubscribe too; a
   * second SUBSCRIBE is harmless). The first success resolves `listening()`.
   */
  private subscribe(sub: Redis): Promise<void> {
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.deliver(message);
    });
    return new Promise((resolve) => {
      const attempt = () => {
        sub.subscribe(this.channel).then(
          () => resolve(),
          (err: unknown) => this.noticeError(new Error(`subscribe failed: ${String(err)}`)),
        );
      };
      sub.on('ready', attempt);
      if (sub.status === 'ready') attempt();
    });
  }

  private noticeError(err: Error): void {
    this.onNoticeError(err);
    this.noticeErrors += 1;
  }

  /** `kind:periodId:subject` (the subject last: it may hold ':'). */
  private deliver(message: string): void {
    const a = message.indexOf(':');
    const b = message.indexOf(':', a + 1);
    const kind = message.slice(0, a);
    const periodId = Number(message.slice(a + 1, b));
    if (a < 0 || b < 0 || (kind !== 'reclaim' && kind !== 'returned') || !Number.isInteger(periodId)) {
      this.noticeError(new Error(`unexpected lease notice ${JSON.stringify(message)}`));
      return;
    }
    const notice: LeaseNotice = { kind, subject: message.slice(b + 1), periodId };
    for (const listener of this.listeners) listener(notice);
  }
}

/** Redis takes whole milliseconds for PX and PEXPIRE. */
function ttl(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

/** One reply per op from the script's 4 strings per op (see lease-script.ts). */
function parseReplies(call: LeaseCall, reply: unknown): LeaseReply[] {
  const ops = call.ops;
  if (!Array.isArray(reply) || reply.length !== 4 * ops.length) {
    throw new LimiterUnavailableError('unexpected lease store reply shape');
  }
  const out: LeaseReply[] = new Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const first = reply[4 * i] as string;
    const second = Number(reply[4 * i + 1]);
    const third = reply[4 * i + 2] as string;
    const kind = ops[i]!.kind;
    if (kind === 'decide') {
      if (!OUTCOMES.has(first)) throw new LimiterUnavailableError(`unexpected lease store outcome ${first}`);
      const outcome = first as 'allowed' | 'quota' | 'rate' | 'wait';
      out[i] = { kind, outcome, used: second, tokens: third === '' ? null : Number(third) };
    } else if (kind === 'quota-lease') {
      const returned = Number(reply[4 * i + 3]);
      out[i] = { kind, granted: Number(first), used: second, expired: third === '1', returned };
    } else {
      out[i] = { kind, granted: Number(first), kept: second, tokens: Number(third) };
    }
  }
  return out;
}
