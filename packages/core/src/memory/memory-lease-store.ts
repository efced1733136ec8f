import {
  DEFAULT_LEASE_POLICY,
  type DecideOp,
  type DecideReply,
  type LeaseCall,
  type LeaseNotice,
  type LeasePolicy,
  type LeaseReply,
  type LeaseStore,
  type QuotaLeaseOp,
  type QuotaLeaseReply,
  type RateLeaseOp,
  type RateLeaseReply,
} from '../leasing/lease-store.ts';
import { type Clock, systemClock } from '../ports.ts';

interface Claim {
  claim: number;
  exp: number;
}

/** One lease: G granted, U reported used, W the holder's window. */
interface QuotaLeaseRecord {
  granted: number;
  used: number;
  window: number;
  exp: number;
}

interface LeaseRecord {
  /** By `${holder} ${lease}`. */
  leases: Map<string, QuotaLeaseRecord>;
  /** Until when a reclaim suspends new blocks (store clock, ms). */
  reclaimUntil: number;
  /** Units of expired leases kept counted (their windows): the under-admission they may cause. */
  forfeited: number;
  /** Leases that expired instead of closing. */
  expiries: number;
}

interface Bucket {
  t: number;
  ts: number;
  /** Sum of the live shares' claims. */
  lz: number;
  /** Earliest expiry among the shares (0 when none): below it no share can have expired. */
  le: number;
  shares: Map<string, Claim>;
}

/**
 * In-memory twin of the Redis lease script (packages/redis/src/lease-script.ts), step for step
 * and with the same float arithmetic: the Redis store is tested against it on generated calls,
 * and the leasing property tests run many LeasingLimiters against it. Keys never expire here
 * (the Redis TTLs only outlive the period and the bucket's refill).
 */
export class MemoryLeaseStore implements LeaseStore {
  readonly counters = new Map<string, number>();
  readonly leases = new Map<string, LeaseRecord>();
  readonly buckets = new Map<string, Bucket>();
  /** Every notice published, in order. */
  readonly published: LeaseNotice[] = [];
  private readonly listeners: ((n: LeaseNotice) => void)[] = [];
  private callCount = 0;

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly policy: LeasePolicy = DEFAULT_LEASE_POLICY,
  ) {}

  static quotaKey(subject: string, periodId: number): string {
    return `${subject}|${periodId}`;
  }

  async run(call: LeaseCall): Promise<LeaseReply[]> {
    return this.apply(call);
  }

  /** The atomic step itself (synchronous: nothing interleaves). */
  apply(call: LeaseCall): LeaseReply[] {
    this.callCount += 1;
    const now = call.nowMs ?? this.clock.now();
    const out: LeaseReply[] = [];
    for (const op of call.ops) {
      if (op.kind === 'decide') out.push(this.decide(call.holder, now, op));
      else if (op.kind === 'quota-lease') out.push(this.quotaLease(call.holder, now, op));
      else out.push(this.rateLease(call.holder, now, op));
    }
    return out;
  }

  async refund(subject: string, periodId: number, cost: number): Promise<void> {
    this.callCount += 1;
    const key = MemoryLeaseStore.quotaKey(subject, periodId);
    const used = this.counters.get(key);
    if (used === undefined) return;
    this.counters.set(key, Math.max(0, used - cost));
  }

  listen(listener: (notice: LeaseNotice) => void): void {
    this.listeners.push(listener);
  }

  calls(): number {
    return this.callCount;
  }

  /** Units reserved in a period (admitted + held in leases). */
  used(subject: string, periodId: number): number {
    return this.counters.get(MemoryLeaseStore.quotaKey(subject, periodId)) ?? 0;
  }

  private publish(kind: LeaseNotice['kind'], subject: string, periodId: number): void {
    const notice = { kind, subject, periodId };
    this.published.push(notice);
    for (const l of this.listeners) l(notice);
  }

  private lease(key: string): LeaseRecord {
    let rec = this.leases.get(key);
    if (rec === undefined) {
      rec = { leases: new Map(), reclaimUntil: 0, forfeited: 0, expiries: 0 };
      this.leases.set(key, rec);
    }
    return rec;
  }

  /**
   * Expires the period's leases past their expiry: each gives back what it never reported used,
   * less its window (units the holder may have admitted unreported).
   */
  private expire(key: string, now: number): void {
    const rec = this.leases.get(key);
    if (rec === undefined) return;
    let back = 0;
    for (const [id, lease] of rec.leases) {
      if (lease.exp > now) continue;
      rec.leases.delete(id);
      const unused = lease.granted - lease.used;
      const kept = Math.min(lease.window, unused);
      back += unused - kept;
      rec.forfeited += kept;
      rec.expiries += 1;
    }
    if (back > 0) this.counters.set(key, Math.max(0, (this.counters.get(key) ?? 0) - back));
  }

  /** Units granted and not reported used in other holders' live leases. */
  private othersClaims(key: string, holder: string): number {
    const rec = this.leases.get(key);
    if (rec === undefined) return 0;
    let others = 0;
    const mine = `${holder} `;
    for (const [id, lease] of rec.leases) if (!id.startsWith(mine)) others += lease.granted - lease.used;
    return others;
  }

  /** Units of expired leases kept counted, and how many leases expired, in a period. */
  expired(subject: string, periodId: number): { forfeited: number; expiries: number } {
    const rec = this.leases.get(MemoryLeaseStore.quotaKey(subject, periodId));
    return { forfeited: rec?.forfeited ?? 0, expiries: rec?.expiries ?? 0 };
  }

  /** Reads a bucket with its expired shares dropped, refilled to `now` (the script's prologue). */
  private refill(key: string, now: number, rate: number, burst: number) {
    const b = this.buckets.get(key);
    let lz = b?.lz ?? 0;
    let le = b?.le ?? 0;
    if (b !== undefined && lz > 0 && now >= le) {
      lz = 0;
      le = 0;
      for (const [h, c] of b.shares) {
        if (c.exp <= now) b.shares.delete(h);
        else {
          lz += c.claim;
          if (le === 0 || c.exp < le) le = c.exp;
        }
      }
    }
    let t0 = b?.t;
    let ts = b?.ts;
    if (t0 === undefined || ts === undefined) {
      t0 = burst - lz;
      ts = now;
    }
    const bnow = now < ts ? ts : now;
    const tokens = Math.min(burst - lz, t0 + ((bnow - ts) / 1000) * rate);
    return { tokens, bnow, lz, le };
  }

  private bucket(key: string): Bucket {
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = { t: 0, ts: 0, lz: 0, le: 0, shares: new Map() };
      this.buckets.set(key, b);
    }
    return b;
  }

  private decide(holder: string, now: number, op: DecideOp): DecideReply {
    const q = op.quota;
    const qkey = q === null ? '' : MemoryLeaseStore.quotaKey(op.subject, q.periodId);
    let used = 0;
    if (q !== null) {
      this.expire(qkey, now);
      used = this.counters.get(qkey) ?? 0;
      if (used + op.cost > q.limit) {
        if (op.mayWait && this.othersClaims(qkey, holder) > 0) {
          this.lease(qkey).reclaimUntil = now + this.policy.reclaimHoldMs;
          this.publish('reclaim', op.subject, q.periodId);
          return { kind: 'decide', outcome: 'wait', used, tokens: null };
        }
        return { kind: 'decide', outcome: 'quota', used, tokens: null };
      }
    }
    let tokens: number | null = null;
    const r = op.rate;
    if (r !== null) {
      const s = this.refill(op.rateSubject, now, r.perSecond, r.burst);
      const b = this.bucket(op.rateSubject);
      b.lz = s.lz;
      b.le = s.le;
      b.ts = s.bnow;
      if (s.tokens < op.cost) {
        b.t = s.tokens;
        return { kind: 'decide', outcome: 'rate', used, tokens: s.tokens };
      }
      tokens = s.tokens - op.cost;
      b.t = tokens;
    }
    if (q !== null) this.counters.set(qkey, used + op.cost);
    return { kind: 'decide', outcome: 'allowed', used, tokens };
  }

  private quotaLease(holder: string, now: number, op: QuotaLeaseOp): QuotaLeaseReply {
    const q = op.quota;
    const qkey = MemoryLeaseStore.quotaKey(op.subject, q.periodId);
    this.expire(qkey, now);
    let used = this.counters.get(qkey) ?? 0;
    const rec = this.leases.get(qkey);
    const id = `${holder} ${op.lease}`;
    const lease = rec?.leases.get(id);
    if (lease === undefined && (op.granted > 0 || op.close)) {
      return { kind: 'quota-lease', granted: 0, used, expired: op.granted > 0, returned: 0 };
    }
    const hold = rec?.reclaimUntil ?? 0;
    if (lease !== undefined) {
      const reported = Math.min(op.used, lease.granted);
      if (reported > lease.used) lease.used = reported;
      if (op.close) {
        const returned = lease.granted - lease.used;
        rec!.leases.delete(id);
        used = Math.max(0, used - returned);
        this.counters.set(qkey, used);
        if (hold > now) this.publish('returned', op.subject, q.periodId);
        return { kind: 'quota-lease', granted: 0, used, expired: false, returned };
      }
    }
    let granted = 0;
    if (op.want > 0 && hold <= now) {
      granted = Math.floor((q.limit - used) / this.policy.quotaDivisor);
      if (granted > op.want) granted = op.want;
      if (granted < 0) granted = 0;
    }
    if (granted > 0) {
      used += granted;
      this.counters.set(qkey, used);
    }
    if (lease !== undefined) {
      lease.granted += granted;
      lease.window = op.window;
      lease.exp = now + op.leaseTtlMs;
    } else if (granted > 0) {
      this.lease(qkey).leases.set(id, { granted, used: 0, window: op.window, exp: now + op.leaseTtlMs });
    }
    return { kind: 'quota-lease', granted, used, expired: false, returned: 0 };
  }

  private rateLease(holder: string, now: number, op: RateLeaseOp): RateLeaseReply {
    const r = op.rate;
    const s = this.refill(op.rateSubject, now, r.perSecond, r.burst);
    const b = this.bucket(op.rateSubject);
    const old = b.shares.get(holder)?.claim ?? 0;
    const kept = Math.min(op.keep, old);
    const ret = Math.min(op.ret, old - kept);
    let lz = s.lz - old;
    let tokens = s.tokens + ret;
    let granted = 0;
    if (op.want > 0) {
      granted = Math.floor(tokens / this.policy.rateDivisor);
      if (granted > op.want) granted = op.want;
      if (granted < 0) granted = 0;
    }
    tokens -= granted;
    const claim = kept + granted;
    let le = s.le;
    if (claim > 0) {
      const exp = now + op.shareTtlMs;
      b.shares.set(holder, { claim, exp });
      if (lz === 0 || exp < le) le = exp;
    } else b.shares.delete(holder);
    lz += claim;
    if (lz === 0) le = 0;
    b.t = tokens;
    b.ts = s.bnow;
    b.lz = lz;
    b.le = le;
    return { kind: 'rate-lease', granted, kept, tokens };
  }
}
