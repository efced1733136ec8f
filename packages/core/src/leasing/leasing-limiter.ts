import type { Clock, LimitDecision, Limiter, LimitRequest } from '../ports.ts';
import { quotaPeriodId, systemClock } from '../ports.ts';
import { type LeaseScheduler, realLeaseScheduler } from './lease-scheduler.ts';
import {
  DEFAULT_LEASE_POLICY,
  type DecideOp,
  type LeaseNotice,
  type LeaseOp,
  type LeasePolicy,
  type LeaseReply,
  type LeaseStore,
  type QuotaPart,
  type RatePart,
} from './lease-store.ts';

/**
 * LeasingLimiter: the gateway's limiter when quotas are decided locally.
 *
 * A gateway takes a block of a subject's quota units (and a share of its token bucket) from the
 * shared store in one atomic call and admits locally, synchronously, while it holds enough; a
 * request it cannot decide from what it holds is decided by the store, exactly as the per-request
 * limiter decides it, batched with the other checks of the event-loop turn. The guarantees are
 * the store's (lease-store.ts): admitted <= limit for any interleaving, crashes included.
 *
 * - Blocks: the first block of a subject asks for `minUnits`, each next one twice the last (up
 *   to `maxUnits`) while they are used up; the store grants at most free/16 of the quota (free =
 *   limit - reserved), so blocks shrink with the remaining quota down to none, and then every
 *   request asks the store. A new block is asked for when a quarter of the last one is left, so
 *   a steady load never waits for it.
 * - Give back: a lease closes (every unused unit goes back) when the subject is idle on this
 *   gateway for `idleMs`, when its lease ends (`leaseTtlMs`, renewed while in use), when a
 *   request arrives for another period or limit (rollover, plan change), on a reclaim, and at
 *   `close()` (shutdown).
 * - Reports: every call on a lease carries its cumulative usage, and the limiter admits at most
 *   `reportWindow` units beyond the usage of its last acknowledged report (it reports when half
 *   the window is used, and before that on the sweep while anything is unreported). When a
 *   holder crashes, its lease expires and the store gives back all but that window.
 * - Reclaim: when the store would refuse a request while other live holders claim units, it
 *   answers 'wait', suspends new blocks for the subject (reclaimHoldMs) and publishes a reclaim
 *   notice; every holder gives its unused units back at once and the store publishes 'returned';
 *   the waiting request asks again on that notice (or every quarter of `reclaimWaitMs`) and is
 *   refused only when `reclaimWaitMs` has passed. Units strand only in holders that do not answer
 *   within that wait (crashed, partitioned, or stalled).
 * - Rate: a share of the bucket for `shareTtlMs`, spent locally until the local deadline, which
 *   runs from the send and ends a margin before the store's.
 * - A failed call (timeout, connection) rejects its checks; units it asked for or gave back may
 *   or may not have been applied (either way safe: at worst they are lost to this period).
 */
export interface LeasingLimiterOptions {
  store: LeaseStore;
  /** Unique per process (a restarted process is a new holder). */
  holder: string;
  /** Largest block (quota units, rate tokens). 1 turns leasing off: every check asks the store. */
  maxUnits?: number;
  /** First block asked for a subject. */
  minUnits?: number;
  /** Lifetime of a quota lease in the store (renewed while in use), in ms. */
  leaseTtlMs?: number;
  /** Lifetime of a rate share, in ms. */
  shareTtlMs?: number;
  /** A lease unused this long goes back, in ms. */
  idleMs?: number;
  /**
   * Most units admitted beyond the last acknowledged usage report of a lease: what a crash can
   * strand per lease (the store keeps it counted on expiry). Default maxUnits / 2.
   */
  reportWindow?: number;
  /** Unreported usage older than this is reported on the sweep, in ms. */
  reportMs?: number;
  /** Longest a check waits for other holders to give units back before it is refused, in ms. */
  reclaimWaitMs?: number;
  /** Must equal the store's policy (its reclaim hold suspends blocks locally too). */
  policy?: LeasePolicy;
  /** Extra lifetime of a quota counter after its period ends, in ms. Default 1 hour. */
  quotaSlackMs?: number;
  /** Extra lifetime of a token bucket after it would be full again, in ms. Default 60 s. */
  bucketSlackMs?: number;
  /** Most ops in one store call. */
  maxOpsPerCall?: number;
  scheduler?: LeaseScheduler;
  /** Wall clock, for key lifetimes (period ends are wall-clock times). */
  clock?: Clock;
}

export interface LeasingLimiterStats {
  /** Store calls (script calls to Redis) so far, refunds included. */
  storeCalls: number;
  /** Checks decided from held leases, without the store. */
  localDecisions: number;
  /** Checks decided by the store. */
  storeDecisions: number;
  /** Quota units held unused right now, over every subject. */
  unitsHeld: number;
  unitsGranted: number;
  unitsReturned: number;
  /** Checks the store told to wait for a reclaim. */
  reclaimWaits: number;
  /** Reclaim notices this holder answered. */
  reclaimsAnswered: number;
  /** Checks refused after waiting the whole reclaim wait. */
  reclaimTimeouts: number;
  /** Store calls that failed (their outcome unknown). */
  failedCalls: number;
  /** Leases the store had expired when this holder next called on them. */
  expiredLeases: number;
}

/**
 * The op queued or in flight for a lease: 'topup' asks for more while keeping what is left,
 * 'renew' only extends its life (and reports), 'park' reports with a window of none (a quiet
 * lease: its units all come back if this process dies), 'unpark' reports with the full window
 * again, 'cycle' gives back what cannot serve and asks anew, 'close'
 * gives everything back.
 */
type EntryMode = 'none' | 'topup' | 'renew' | 'park' | 'unpark' | 'cycle' | 'close';

/** This holder's lease of one subject's quota in one period. */
interface QuotaLease {
  readonly subject: string;
  readonly periodId: number;
  readonly limit: number;
  periodEnd: number;
  /** The store's name of the current lease; a new one after every close or expiry. */
  leaseId: string;
  /** Units granted on the current lease id, as seen in replies. */
  grantedSeen: number;
  /** Units admitted locally from the current lease id (cumulative). */
  usedTotal: number;
  /** The largest `usedTotal` the store acknowledged (a reply to a call that carried it). */
  ackedUsed: number;
  /** When `usedTotal` last exceeded `ackedUsed` from none (monotonic ms). */
  unreportedSince: number;
  /**
   * The most `usedTotal` may reach: the least `used + window` of the calls the store may have
   * applied last (the last acknowledged one and any failed since), and of the one in flight.
   */
  usedCap: number;
  /** `used + window` of the call in flight on this lease id (Infinity: none). */
  pendingCap: number;
  /** Reports go with a window of none (quiet lease). */
  parked: boolean;
  /** A call that asked for units on this lease id failed: the store may hold a grant we never saw. */
  unsure: boolean;
  /** Unused units, usable while `now < deadline`. */
  units: number;
  /** Counter after our last call (for the remaining shown to clients). */
  counterSeen: number;
  deadline: number;
  lastUse: number;
  want: number;
  lastGrant: number;
  /** An op is queued or in flight (at most one per lease). */
  mode: EntryMode;
  closeAfter: boolean;
  /** Replaced by a lease of another period or limit: never used again, closed when idle of ops. */
  retired: boolean;
  noBlocksUntil: number;
}

/** This holder's share of one token bucket. */
interface RateShare {
  readonly rateSubject: string;
  readonly perSecond: number;
  readonly burst: number;
  tokens: number;
  tokensSeen: number;
  deadline: number;
  lastUse: number;
  want: number;
  lastGrant: number;
  held: boolean;
  mode: EntryMode;
  closeAfter: boolean;
  retired: boolean;
}

interface PendingCheck {
  req: LimitRequest;
  resolve: (d: LimitDecision) => void;
  reject: (err: unknown) => void;
  /** Monotonic time until which a reclaim may still be waited for (0: not waited yet). */
  waitUntil: number;
  retryAt: number;
}

/**
 * What one op of a call was for. `phase`: 'give' only gives back (the first op of a cycle, which
 * never settles the lease: its second op does), 'keep' renews or takes more, 'close' ends it.
 */
type OpPhase = 'give' | 'keep' | 'close';
type OpContext =
  | { kind: 'decide'; check: PendingCheck }
  | {
      kind: 'quota';
      lease: QuotaLease;
      phase: OpPhase;
      /** The usage the op carried (acknowledged by its reply). */
      usedSent: number;
      /** `used + window` the op carried. */
      capSent: number;
      want: number;
      sentAt: number;
      sentWall: number;
    }
  | { kind: 'rate'; share: RateShare; phase: OpPhase; want: number; sentAt: number };

export class LeasingLimiter implements Limiter {
  private readonly store: LeaseStore;
  private readonly holder: string;
  private readonly leasing: boolean;
  private readonly maxUnits: number;
  private readonly minUnits: number;
  private readonly leaseTtlMs: number;
  private readonly shareTtlMs: number;
  private readonly idleMs: number;
  private readonly reportWindow: number;
  private readonly reportMs: number;
  private readonly reclaimWaitMs: number;
  private readonly policy: LeasePolicy;
  private readonly quotaSlackMs: number;
  private readonly bucketSlackMs: number;
  private readonly maxOps: number;
  private readonly sched: LeaseScheduler;
  private readonly clock: Clock;

  private readonly quotas = new Map<string, QuotaLease>();
  /** Leases replaced by another period or limit whose close has not settled yet. */
  private readonly retiredLeases = new Set<QuotaLease>();
  private readonly shares = new Map<string, RateShare>();
  private pending: PendingCheck[] = [];
  private quotaOps: QuotaLease[] = [];
  private rateOps: RateShare[] = [];
  private waiters: PendingCheck[] = [];
  private flushScheduled = false;
  private waitTimerAt = Number.POSITIVE_INFINITY;
  private cancelWaitTimer: (() => void) | null = null;
  private cancelSweep: (() => void) | null = null;
  private closed = false;
  private leaseSeq = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly counters = {
    localDecisions: 0,
    storeDecisions: 0,
    unitsGranted: 0,
    unitsReturned: 0,
    reclaimWaits: 0,
    reclaimsAnswered: 0,
    reclaimTimeouts: 0,
    failedCalls: 0,
    expiredLeases: 0,
  };

  constructor(opts: LeasingLimiterOptions) {
    this.store = opts.store;
    this.holder = opts.holder;
    this.maxUnits = Math.max(1, Math.floor(opts.maxUnits ?? 256));
    this.leasing = this.maxUnits > 1;
    this.minUnits = Math.min(this.maxUnits, Math.max(1, Math.floor(opts.minUnits ?? 8)));
    this.leaseTtlMs = opts.leaseTtlMs ?? 10_000;
    this.shareTtlMs = opts.shareTtlMs ?? 1_000;
    this.idleMs = opts.idleMs ?? 2_000;
    this.reportWindow = Math.max(1, Math.floor(opts.reportWindow ?? this.maxUnits / 2));
    this.reportMs = opts.reportMs ?? 250;
    this.reclaimWaitMs = opts.reclaimWaitMs ?? 100;
    this.policy = opts.policy ?? DEFAULT_LEASE_POLICY;
    this.quotaSlackMs = opts.quotaSlackMs ?? 3_600_000;
    this.bucketSlackMs = Math.max(opts.bucketSlackMs ?? 60_000, this.shareTtlMs);
    this.maxOps = Math.max(3, opts.maxOpsPerCall ?? 128);
    this.sched = opts.scheduler ?? realLeaseScheduler;
    this.clock = opts.clock ?? systemClock;
    if (this.leasing) {
      this.store.listen(this.onNotice);
      this.armSweep();
    }
  }

  stats(): LeasingLimiterStats {
    let unitsHeld = 0;
    for (const l of this.held()) unitsHeld += l.units;
    return { storeCalls: this.store.calls(), unitsHeld, ...this.counters };
  }

  /** Quota units this holder has and may still use or give back, per subject and period. */
  held(): { subject: string; periodId: number; units: number }[] {
    const out: { subject: string; periodId: number; units: number }[] = [];
    for (const l of this.quotas.values()) if (l.units > 0) out.push(l);
    for (const l of this.retiredLeases) if (l.units > 0) out.push(l);
    return out;
  }

  check(req: LimitRequest): LimitDecision | Promise<LimitDecision> {
    const cost = req.cost;
    if (!Number.isInteger(cost) || cost < 0) {
      return Promise.reject(new RangeError('cost must be an integer >= 0'));
    }
    const q = req.quota;
    const r = req.rate;
    if (q === null && r === null) {
      return {
        allowed: true,
        limitedBy: null,
        quotaRemaining: null,
        quotaResetMs: null,
        rateRemaining: null,
        retryAfterMs: null,
      };
    }
    const now = this.sched.now();
    return this.decideLocally(req, now) ?? this.askStore(req, now);
  }

  /** A decision from the lease and share held, or null when they cannot make it. */
  private decideLocally(req: LimitRequest, now: number): LimitDecision | null {
    const cost = req.cost;
    const q = req.quota;
    const r = req.rate;
    if (!this.leasing || this.closed) return null;
    let lease: QuotaLease | undefined;
    let share: RateShare | undefined;
    if (q !== null) {
      lease = this.quotas.get(req.subject);
      if (
        lease === undefined ||
        lease.units < cost ||
        now >= lease.deadline ||
        lease.usedTotal + cost > Math.min(lease.usedCap, lease.pendingCap) ||
        lease.retired ||
        lease.limit !== q.limit ||
        lease.periodId !== quotaPeriodId(q.periodStart)
      )
        return null;
    }
    if (r !== null) {
      share = this.shares.get(req.rateSubject ?? req.subject);
      if (
        share === undefined ||
        share.tokens < cost ||
        now >= share.deadline ||
        share.retired ||
        share.perSecond !== r.perSecond ||
        share.burst !== r.burst
      )
        return null;
    }
    this.counters.localDecisions += 1;
    let quotaRemaining: number | null = null;
    let rateRemaining: number | null = null;
    if (lease !== undefined) {
      if (lease.usedTotal === lease.ackedUsed) lease.unreportedSince = now;
      lease.units -= cost;
      lease.usedTotal += cost;
      lease.lastUse = now;
      quotaRemaining = lease.limit - lease.counterSeen + lease.units;
      if (lease.mode === 'none') {
        if (lease.units <= lease.lastGrant >> 2) this.queueQuota(lease, 'topup');
        else if (2 * (lease.usedTotal - lease.ackedUsed) >= this.reportWindow)
          this.queueQuota(lease, 'renew');
      }
    }
    if (share !== undefined) {
      share.tokens -= cost;
      share.lastUse = now;
      rateRemaining = Math.floor(share.tokensSeen + share.tokens);
      if (share.mode === 'none' && share.tokens <= share.lastGrant >> 2) this.queueRate(share, 'topup');
    }
    return {
      allowed: true,
      limitedBy: null,
      quotaRemaining,
      quotaResetMs: q === null ? null : q.periodEnd - req.now,
      rateRemaining,
      retryAfterMs: null,
    };
  }

  async refund(req: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>): Promise<void> {
    const q = req.quota;
    if (q === null || req.cost <= 0) return;
    // Straight to the counter, lease or not: a lease's usage stays what it admitted.
    await this.store.refund(req.subject, quotaPeriodId(q.periodStart), req.cost);
  }

  /** Gives back every held unit and share (bounded by the store's timeout), then stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelSweep?.();
    this.cancelSweep = null;
    for (const lease of this.quotas.values()) {
      if (lease.mode === 'none' && mayHaveRecord(lease)) this.queueQuota(lease, 'close');
      else lease.closeAfter = true;
    }
    for (const share of this.shares.values()) {
      if (share.mode === 'none' && (share.held || share.tokens > 0)) this.queueRate(share, 'close');
      else share.closeAfter = true;
    }
    for (const w of this.waiters) {
      w.waitUntil = 0;
      this.pending.push(w);
    }
    this.waiters = [];
    // Replies of calls in flight may queue more closes: send them until nothing is left.
    for (;;) {
      this.flush();
      if (this.inFlight.size === 0) return;
      await Promise.allSettled([...this.inFlight]);
    }
  }

  private askStore(req: LimitRequest, now: number): Promise<LimitDecision> {
    const p = new Promise<LimitDecision>((resolve, reject) => {
      this.pending.push({ req, resolve, reject, waitUntil: 0, retryAt: 0 });
    });
    if (this.leasing && !this.closed) this.planLeases(req, now);
    this.scheduleFlush();
    return p;
  }

  /** A check the held leases could not decide: renew or replace the ones that could not. */
  private planLeases(req: LimitRequest, now: number): void {
    const cost = req.cost;
    const q = req.quota;
    if (q !== null) {
      const periodId = quotaPeriodId(q.periodStart);
      let lease = this.quotas.get(req.subject);
      if (lease !== undefined && (lease.periodId !== periodId || lease.limit !== q.limit || lease.retired)) {
        lease.retired = true;
        this.retiredLeases.add(lease);
        if (lease.mode === 'none') this.queueQuota(lease, 'close');
        else lease.closeAfter = true;
        lease = this.newQuotaLease(req.subject, periodId, q.limit, q.periodEnd, lease.want);
      } else if (lease === undefined) {
        lease = this.newQuotaLease(req.subject, periodId, q.limit, q.periodEnd, this.minUnits);
      }
      lease.periodEnd = q.periodEnd;
      const serves = lease.units >= cost && now < lease.deadline;
      if (lease.mode === 'none') {
        // Units enough but the window spent (or parked): a report with the full window frees them.
        if (serves) this.queueQuota(lease, 'unpark');
        else if (now >= lease.noBlocksUntil) this.queueQuota(lease, 'cycle');
      }
    }
    const r = req.rate;
    if (r !== null) {
      const rateSubject = req.rateSubject ?? req.subject;
      let share = this.shares.get(rateSubject);
      if (
        share !== undefined &&
        (share.perSecond !== r.perSecond || share.burst !== r.burst || share.retired)
      ) {
        share.retired = true;
        if (share.mode === 'none') this.queueRate(share, 'close');
        else share.closeAfter = true;
        share = this.newRateShare(rateSubject, r.perSecond, r.burst, share.want);
      } else if (share === undefined) {
        share = this.newRateShare(rateSubject, r.perSecond, r.burst, this.minUnits);
      }
      const serves = share.tokens >= cost && now < share.deadline;
      if (!serves && share.mode === 'none') this.queueRate(share, 'cycle');
    }
  }

  private newQuotaLease(
    subject: string,
    periodId: number,
    limit: number,
    periodEnd: number,
    want: number,
  ): QuotaLease {
    const lease: QuotaLease = {
      subject,
      periodId,
      limit,
      periodEnd,
      leaseId: this.nextLeaseId(),
      grantedSeen: 0,
      usedTotal: 0,
      ackedUsed: 0,
      unreportedSince: 0,
      usedCap: 0,
      pendingCap: Number.POSITIVE_INFINITY,
      parked: false,
      unsure: false,
      units: 0,
      counterSeen: 0,
      deadline: 0,
      lastUse: this.sched.now(),
      want,
      lastGrant: 0,
      mode: 'none',
      closeAfter: false,
      retired: false,
      noBlocksUntil: 0,
    };
    this.quotas.set(subject, lease);
    return lease;
  }

  private newRateShare(rateSubject: string, perSecond: number, burst: number, want: number): RateShare {
    const share: RateShare = {
      rateSubject,
      perSecond,
      burst,
      tokens: 0,
      tokensSeen: 0,
      deadline: 0,
      lastUse: this.sched.now(),
      want,
      lastGrant: 0,
      held: false,
      mode: 'none',
      closeAfter: false,
      retired: false,
    };
    this.shares.set(rateSubject, share);
    return share;
  }

  private nextLeaseId(): string {
    this.leaseSeq += 1;
    return this.leaseSeq.toString(36);
  }

  /** After a close or an expiry: the next units come on a new lease id. */
  private renewLeaseId(lease: QuotaLease): void {
    lease.leaseId = this.nextLeaseId();
    lease.grantedSeen = 0;
    lease.usedTotal = 0;
    lease.ackedUsed = 0;
    lease.usedCap = 0;
    lease.pendingCap = Number.POSITIVE_INFINITY;
    lease.parked = false;
    lease.unsure = false;
    lease.units = 0;
    lease.deadline = 0;
  }

  private queueQuota(lease: QuotaLease, mode: EntryMode): void {
    lease.mode = mode;
    this.quotaOps.push(lease);
    this.scheduleFlush();
  }

  private queueRate(share: RateShare, mode: EntryMode): void {
    share.mode = mode;
    this.rateOps.push(share);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.sched.soon(this.flush);
  }

  /**
   * Sends what the turn queued: gives back first (so the decisions can use those units), then
   * the decisions in arrival order, then the new blocks (taken from what the decisions left).
   */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const checks = this.pending;
    const quotaOps = this.quotaOps;
    const rateOps = this.rateOps;
    if (checks.length === 0 && quotaOps.length === 0 && rateOps.length === 0) return;
    this.pending = [];
    this.quotaOps = [];
    this.rateOps = [];
    const now = this.sched.now();
    const wall = this.clock.now();
    const before: LeaseOp[] = [];
    const beforeCtx: OpContext[] = [];
    const after: LeaseOp[] = [];
    const afterCtx: OpContext[] = [];
    for (const lease of quotaOps) {
      const quota = this.quotaPart(lease.limit, lease.periodId, lease.periodEnd, wall);
      const closing = lease.mode === 'close' || lease.retired || this.closed;
      const give = closing || lease.mode === 'cycle' || now >= lease.deadline;
      const base = {
        kind: 'quota-lease' as const,
        subject: lease.subject,
        quota,
        leaseTtlMs: this.leaseTtlMs,
      };
      const window = this.reportWindow;
      const ctxBase = { kind: 'quota' as const, lease, sentAt: now, sentWall: wall };
      if (give) {
        // Close the lease id: its final usage goes with it, and its units are never used again
        // (frozen at once, whatever becomes of the call).
        const hadRecord = mayHaveRecord(lease);
        const closeOp: LeaseOp = {
          ...base,
          lease: lease.leaseId,
          granted: lease.grantedSeen,
          used: lease.usedTotal,
          close: true,
          want: 0,
          window,
        };
        const closeUsed = lease.usedTotal;
        this.counters.unitsReturned += lease.units;
        this.renewLeaseId(lease);
        if (closing) {
          lease.mode = 'close';
          if (hadRecord) {
            before.push(closeOp);
            beforeCtx.push({ ...ctxBase, phase: 'close', usedSent: closeUsed, capSent: closeUsed, want: 0 });
          } else this.settleQuota(lease, true);
          continue;
        }
        if (hadRecord) {
          // Give back before the decisions (they may need those units), take the block after them.
          before.push(closeOp);
          beforeCtx.push({ ...ctxBase, phase: 'give', usedSent: closeUsed, capSent: closeUsed, want: 0 });
        }
      }
      if (lease.mode === 'topup' && lease.lastGrant > 0) lease.want = Math.min(this.maxUnits, lease.want * 2);
      const want =
        lease.mode === 'renew' ||
        lease.mode === 'park' ||
        lease.mode === 'unpark' ||
        now < lease.noBlocksUntil
          ? 0
          : lease.want;
      if (lease.mode === 'park') lease.parked = true;
      else if (lease.mode !== 'renew') lease.parked = false;
      if (want === 0 && !mayHaveRecord(lease)) {
        // Nothing to report, renew or take.
        this.settleQuota(lease, false);
        continue;
      }
      const keepWindow = lease.parked ? 0 : window;
      lease.pendingCap = lease.usedTotal + keepWindow;
      after.push({
        ...base,
        lease: lease.leaseId,
        granted: lease.grantedSeen,
        used: lease.usedTotal,
        close: false,
        want,
        window: keepWindow,
      });
      afterCtx.push({
        ...ctxBase,
        phase: 'keep',
        usedSent: lease.usedTotal,
        capSent: lease.pendingCap,
        want,
      });
    }
    for (const share of rateOps) {
      const rate = this.ratePart(share.perSecond, share.burst);
      const closing = share.mode === 'close' || share.retired || this.closed;
      const give = closing || share.mode === 'cycle' || now >= share.deadline;
      const ret = give ? share.tokens : 0;
      const keep = give ? 0 : share.tokens;
      if (give) share.tokens = 0;
      const ttl = this.shareTtlMs;
      if (closing) {
        share.mode = 'close';
        before.push({
          kind: 'rate-lease',
          rateSubject: share.rateSubject,
          rate,
          keep: 0,
          ret,
          want: 0,
          shareTtlMs: ttl,
        });
        beforeCtx.push({ kind: 'rate', share, phase: 'close', want: 0, sentAt: now });
        continue;
      }
      if (share.mode === 'topup' && share.lastGrant > 0) share.want = Math.min(this.maxUnits, share.want * 2);
      const want = share.mode === 'renew' ? 0 : share.want;
      if (share.mode === 'cycle' && ret > 0) {
        before.push({
          kind: 'rate-lease',
          rateSubject: share.rateSubject,
          rate,
          keep: 0,
          ret,
          want: 0,
          shareTtlMs: ttl,
        });
        beforeCtx.push({ kind: 'rate', share, phase: 'give', want: 0, sentAt: now });
        after.push({
          kind: 'rate-lease',
          rateSubject: share.rateSubject,
          rate,
          keep: 0,
          ret: 0,
          want,
          shareTtlMs: ttl,
        });
      } else {
        after.push({
          kind: 'rate-lease',
          rateSubject: share.rateSubject,
          rate,
          keep,
          ret,
          want,
          shareTtlMs: ttl,
        });
      }
      afterCtx.push({ kind: 'rate', share, phase: 'keep', want, sentAt: now });
    }
    const ops: LeaseOp[] = before;
    const ctx: OpContext[] = beforeCtx;
    for (const check of checks) {
      ops.push(this.decideOp(check, now));
      ctx.push({ kind: 'decide', check });
    }
    for (let i = 0; i < after.length; i++) {
      ops.push(after[i]!);
      ctx.push(afterCtx[i]!);
    }
    // Calls go out in order on one connection, so a cycle split over two calls stays in order.
    if (ops.length <= this.maxOps) this.send(ops, ctx);
    else {
      for (let from = 0; from < ops.length; from += this.maxOps) {
        this.send(ops.slice(from, from + this.maxOps), ctx.slice(from, from + this.maxOps));
      }
    }
  };

  private decideOp(check: PendingCheck, now: number): DecideOp {
    const req = check.req;
    const q = req.quota;
    const r = req.rate;
    return {
      kind: 'decide',
      subject: req.subject,
      rateSubject: req.rateSubject ?? req.subject,
      cost: req.cost,
      quota: q === null ? null : this.quotaPart(q.limit, quotaPeriodId(q.periodStart), q.periodEnd, req.now),
      rate: r === null ? null : this.ratePart(r.perSecond, r.burst),
      mayWait: this.leasing && !this.closed && (check.waitUntil === 0 || now < check.waitUntil),
    };
  }

  private quotaPart(limit: number, periodId: number, periodEnd: number, wallNow: number): QuotaPart {
    return { limit, periodId, keyTtlMs: Math.max(1, Math.ceil(periodEnd - wallNow)) + this.quotaSlackMs };
  }

  private ratePart(perSecond: number, burst: number): RatePart {
    const refillMs = perSecond <= 0 ? 0 : Math.ceil((burst / perSecond) * 1000);
    return { perSecond, burst, keyTtlMs: refillMs + this.bucketSlackMs };
  }

  private send(ops: LeaseOp[], ctx: OpContext[]): void {
    const call = this.store.run({ holder: this.holder, nowMs: null, ops }).then(
      (replies) => this.onReplies(ctx, replies),
      (err: unknown) => this.onFailure(ctx, err),
    );
    this.inFlight.add(call);
    void call.finally(() => this.inFlight.delete(call));
  }

  private onReplies(ctx: OpContext[], replies: LeaseReply[]): void {
    if (replies.length !== ctx.length) {
      this.onFailure(ctx, new Error(`lease store answered ${replies.length} replies to ${ctx.length} ops`));
      return;
    }
    for (let i = 0; i < ctx.length; i++) {
      const c = ctx[i]!;
      const reply = replies[i]!;
      if (c.kind === 'decide' && reply.kind === 'decide') this.onDecided(c.check, reply);
      else if (c.kind === 'quota' && reply.kind === 'quota-lease') {
        const lease = c.lease;
        lease.counterSeen = reply.used;
        if (c.phase === 'give') continue; // the op after it settles the lease
        if (c.phase === 'keep') {
          if (reply.expired) {
            // The store gave our unused units back (less the window): never use them.
            this.counters.expiredLeases += 1;
            this.renewLeaseId(lease);
          } else {
            lease.units += reply.granted;
            lease.grantedSeen += reply.granted;
            this.counters.unitsGranted += reply.granted;
            if (c.usedSent > lease.ackedUsed) lease.ackedUsed = c.usedSent;
            // Every call before it is superseded: the store applied this one after them.
            lease.usedCap = c.capSent;
            lease.pendingCap = Number.POSITIVE_INFINITY;
            if (c.want > 0) {
              lease.lastGrant = reply.granted;
              lease.unsure = false;
            }
            if (lease.grantedSeen > 0) {
              lease.deadline =
                c.sentAt + Math.min(localLifetime(this.leaseTtlMs), lease.periodEnd - c.sentWall);
            }
          }
        }
        this.settleQuota(lease, c.phase === 'close');
      } else if (c.kind === 'rate' && reply.kind === 'rate-lease') {
        const share = c.share;
        share.tokens = Math.min(share.tokens, reply.kept) + reply.granted;
        share.tokensSeen = reply.tokens;
        if (c.want > 0) share.lastGrant = reply.granted;
        if (c.phase === 'give') continue;
        share.held = c.phase !== 'close' && reply.kept + reply.granted > 0;
        if (share.held) share.deadline = c.sentAt + localLifetime(this.shareTtlMs);
        this.settleRate(share, c.phase === 'close');
      } else {
        this.onFailure(ctx.slice(i), new Error(`lease store reply ${reply.kind} to a ${c.kind} op`));
        return;
      }
    }
  }

  private settleQuota(lease: QuotaLease, closed: boolean): void {
    lease.mode = 'none';
    if (closed) {
      this.retiredLeases.delete(lease);
      if (this.quotas.get(lease.subject) === lease) this.quotas.delete(lease.subject);
      return;
    }
    if (lease.closeAfter || lease.retired || this.closed) {
      lease.closeAfter = false;
      this.queueQuota(lease, 'close');
    }
  }

  private settleRate(share: RateShare, closed: boolean): void {
    share.mode = 'none';
    if (closed) {
      share.held = false;
      if (this.shares.get(share.rateSubject) === share) this.shares.delete(share.rateSubject);
      return;
    }
    if (share.closeAfter || share.retired || this.closed) {
      share.closeAfter = false;
      this.queueRate(share, 'close');
    }
  }

  private onFailure(ctx: OpContext[], err: unknown): void {
    this.counters.failedCalls += 1;
    for (const c of ctx) {
      if (c.kind === 'decide') c.check.reject(err);
      else if (c.phase === 'give')
        continue; // its units are gone either way; the next op settles
      else if (c.kind === 'quota') {
        // Whatever the call did, our units are still ours until the deadline (nothing
        // acknowledged, nothing renewed); a grant we did not see is given back by the close.
        if (c.want > 0) c.lease.unsure = true;
        // It may be the last call the store applied: its window binds until one after it is acknowledged.
        if (c.phase === 'keep') {
          c.lease.usedCap = Math.min(c.lease.usedCap, c.capSent);
          c.lease.pendingCap = Number.POSITIVE_INFINITY;
        }
        this.settleQuota(c.lease, c.phase === 'close');
      } else {
        // The store may have cut our share (it had expired there): spend none of it.
        c.share.tokens = 0;
        c.share.deadline = 0;
        this.settleRate(c.share, c.phase === 'close');
      }
    }
  }

  private onDecided(check: PendingCheck, reply: Extract<LeaseReply, { kind: 'decide' }>): void {
    const req = check.req;
    const q = req.quota;
    const r = req.rate;
    const now = req.now;
    const quotaResetMs = q === null ? null : q.periodEnd - now;
    if (reply.outcome === 'wait' && q !== null) {
      this.counters.reclaimWaits += 1;
      const mono = this.sched.now();
      if (check.waitUntil === 0) check.waitUntil = mono + this.reclaimWaitMs;
      check.retryAt = Math.min(check.waitUntil, mono + Math.max(1, this.reclaimWaitMs / 4));
      this.waiters.push(check);
      this.armWaitTimer(check.retryAt);
      return;
    }
    this.counters.storeDecisions += 1;
    if (reply.outcome === 'quota' && q !== null) {
      if (check.waitUntil !== 0) this.counters.reclaimTimeouts += 1;
      check.resolve({
        allowed: false,
        limitedBy: 'quota',
        quotaRemaining: Math.max(0, q.limit - reply.used),
        quotaResetMs,
        rateRemaining: null,
        retryAfterMs: q.periodEnd - now,
      });
      return;
    }
    const tokens = reply.tokens;
    if (reply.outcome === 'rate' && r !== null && tokens !== null) {
      check.resolve({
        allowed: false,
        limitedBy: 'rate',
        quotaRemaining: q === null ? null : q.limit - reply.used,
        quotaResetMs,
        rateRemaining: Math.floor(tokens),
        retryAfterMs: Math.ceil(((req.cost - tokens) / r.perSecond) * 1000),
      });
      return;
    }
    if (reply.outcome !== 'allowed') {
      check.reject(new Error(`unexpected lease store outcome ${reply.outcome}`));
      return;
    }
    // What is left for this consumer: not reserved by anyone, plus what this gateway holds.
    let quotaRemaining: number | null = null;
    if (q !== null) {
      const lease = this.quotas.get(req.subject);
      const held =
        lease !== undefined && lease.limit === q.limit && lease.periodId === quotaPeriodId(q.periodStart)
          ? lease.units
          : 0;
      quotaRemaining = q.limit - reply.used - req.cost + held;
    }
    let rateRemaining: number | null = null;
    if (tokens !== null) {
      const share = this.shares.get(req.rateSubject ?? req.subject);
      rateRemaining = Math.floor(tokens + (share === undefined ? 0 : share.tokens));
    }
    check.resolve({
      allowed: true,
      limitedBy: null,
      quotaRemaining,
      quotaResetMs,
      rateRemaining,
      retryAfterMs: null,
    });
  }

  private readonly onNotice = (notice: LeaseNotice): void => {
    if (notice.kind === 'returned') {
      this.retryWaiters(notice.subject, false);
      return;
    }
    const lease = this.quotas.get(notice.subject);
    if (lease === undefined || lease.periodId !== notice.periodId) return;
    lease.noBlocksUntil = this.sched.now() + this.policy.reclaimHoldMs;
    if (!mayHaveRecord(lease) && lease.mode === 'none') return;
    this.counters.reclaimsAnswered += 1;
    if (lease.mode === 'none') this.queueQuota(lease, 'close');
    else lease.closeAfter = true;
  };

  /** Sends waiting checks again: those of `subject` (null: all), or only those due. */
  private retryWaiters(subject: string | null, dueOnly: boolean): void {
    if (this.waiters.length === 0) return;
    const now = this.sched.now();
    const keep: PendingCheck[] = [];
    let sent = false;
    for (const w of this.waiters) {
      if ((subject === null || w.req.subject === subject) && (!dueOnly || w.retryAt <= now)) {
        this.pending.push(w);
        sent = true;
      } else keep.push(w);
    }
    this.waiters = keep;
    if (sent) this.scheduleFlush();
    if (keep.length > 0) {
      let next = Number.POSITIVE_INFINITY;
      for (const w of keep) next = Math.min(next, w.retryAt);
      this.armWaitTimer(next);
    }
  }

  private armWaitTimer(at: number): void {
    if (at >= this.waitTimerAt) return;
    this.cancelWaitTimer?.();
    this.waitTimerAt = at;
    this.cancelWaitTimer = this.sched.after(Math.max(0, at - this.sched.now()), () => {
      this.cancelWaitTimer = null;
      this.waitTimerAt = Number.POSITIVE_INFINITY;
      this.retryWaiters(null, true);
    });
  }

  private armSweep(): void {
    const every = Math.max(5, Math.min(this.idleMs, this.shareTtlMs, this.leaseTtlMs) / 4);
    this.cancelSweep = this.sched.after(every, () => {
      this.sweep();
      if (!this.closed) this.armSweep();
    });
  }

  /** Gives back idle and ended leases; renews the ones in use before they end. */
  private sweep(): void {
    const now = this.sched.now();
    for (const lease of this.quotas.values()) {
      if (lease.mode !== 'none') continue;
      const idle = now - lease.lastUse >= this.idleMs;
      if (mayHaveRecord(lease)) {
        if (idle || now >= lease.deadline || lease.retired) this.queueQuota(lease, 'close');
        else if (!lease.parked && now - lease.lastUse >= this.reportMs) this.queueQuota(lease, 'park');
        else if (
          lease.deadline - now <= this.leaseTtlMs / 4 ||
          (lease.usedTotal > lease.ackedUsed && now - lease.unreportedSince >= this.reportMs)
        )
          this.queueQuota(lease, 'renew');
      } else if (idle && now >= lease.noBlocksUntil) this.quotas.delete(lease.subject);
    }
    for (const share of this.shares.values()) {
      if (share.mode !== 'none') continue;
      const idle = now - share.lastUse >= this.idleMs;
      if (share.held || share.tokens > 0) {
        if (idle || now >= share.deadline || share.retired) this.queueRate(share, 'close');
        else if (share.deadline - now <= this.shareTtlMs / 4) this.queueRate(share, 'renew');
      } else if (idle) this.shares.delete(share.rateSubject);
    }
  }
}

/** The store may keep a record of the lease (units seen granted, or a grant whose reply was lost). */
function mayHaveRecord(lease: QuotaLease): boolean {
  return lease.grantedSeen > 0 || lease.unsure;
}

/** Local lifetime of a lease the store keeps `ttlMs`: a margin shorter, for clock-rate drift. */
function localLifetime(ttlMs: number): number {
  return ttlMs - Math.ceil(ttlMs / 50) - 1;
}
