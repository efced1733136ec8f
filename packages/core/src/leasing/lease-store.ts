/**
 * The port between a LeasingLimiter (one per gateway process) and the store every gateway shares
 * (Redis in production: packages/redis; MemoryLeaseStore in ../memory for tests and the model).
 *
 * One `run` is one atomic step of the store: its ops are applied in order with nothing between
 * them. The store's state per quota subject and period is a counter of units *reserved*: units of
 * requests it admitted itself, plus every unit granted in a lease that the lease has not given
 * back. Per lease (one holder, one subject and period, one lease id) it records G, the units
 * granted; U, the largest usage the holder reported (cumulative, so a report is idempotent); W,
 * the holder's window; and an expiry.
 *
 * The holder's obligations:
 *  - it admits locally only from units it was granted, and only while its local deadline (from
 *    the *send* of the call that renewed the lease, a margin shorter than the TTL) is ahead: the
 *    store's expiry runs from the *run*, later;
 *  - it reports its cumulative usage of the lease in every call on it, and never admits more than
 *    W units beyond the usage of its last *acknowledged* report (a report whose reply it has);
 *  - at a close it reports its final usage and never uses a unit of that lease again.
 *
 * The store's rules: a close gives back G - U (U the final usage); an expiry gives back
 * G - U - min(W, G - U) and keeps min(W, G - U) counted: the holder may have admitted up to W
 * units the store never heard of. Each lease's contribution to the counter is therefore at least
 * the units really admitted from it, so
 *
 *     admitted (net of refunds) <= counter <= limit
 *
 * for any interleaving of holders, lost calls, lost replies, crashes and expiries (never
 * over-admission). A grant whose reply was lost is given back by the close (the store knows G,
 * the holder need not).
 *
 * The window is the one of the last op applied, and a holder may lower it: a quiet lease reports
 * with a window of 0 ("parked": it admits nothing more until a later report with a window is
 * acknowledged), so that all its unused units come back if it dies. The holder keeps its usage
 * within used + window of every op the store may have applied last (the last acknowledged one,
 * any that failed since, the one in flight).
 *
 * Under-admission, the bound: at most min(W, unused units of the lease) per lease that *expires*
 * instead of closing (a crashed holder, a holder cut off from the store past its TTL, a close
 * that was lost) while it was active (not parked), in that period; none for a parked lease. Blocks are at most free/quotaDivisor when granted, so near the
 * end of a quota the bound shrinks with the blocks. Units held by live holders are not stranded:
 * when a request would be refused while other live leases hold units, the store answers 'wait'
 * and publishes a reclaim; holders close their leases (exact give-back) and the request asks
 * again. Units strand in a live holder only if it does not answer a reclaim within the waiting
 * request's wait (reclaimWaitMs), and only until it closes (idle, period end, shutdown).
 *
 * Rate: the token bucket keeps `t + lz <= burst`, where lz is the sum of the shares held by
 * holders (an upper bound of their unused tokens). Shares expire; a holder stops spending a share
 * before the store expires it (its deadline runs from the send, the store's from the run).
 */

export interface QuotaPart {
  limit: number;
  /** quotaPeriodId(periodStart): names the counter. */
  periodId: number;
  /** Lifetime of the counter key from now (period end + slack), in ms. */
  keyTtlMs: number;
}

export interface RatePart {
  perSecond: number;
  burst: number;
  /** Lifetime of the bucket key from now (time to refill + slack), in ms. */
  keyTtlMs: number;
}

/** Decide one request exactly as the per-request limiter does (quota, then rate; all or nothing). */
export interface DecideOp {
  kind: 'decide';
  subject: string;
  rateSubject: string;
  cost: number;
  quota: QuotaPart | null;
  rate: RatePart | null;
  /**
   * When the quota refuses although other live holders claim units: answer 'wait' (and signal a
   * reclaim) instead of refusing. False on the last try after a wait.
   */
  mayWait: boolean;
}

/**
 * One call on one lease (holder, subject, period, lease id): report usage, take more, renew,
 * or close. The store first expires every lease of the subject's period past its expiry.
 *  - no record of `lease`: with `granted` > 0 the lease expired (reply `expired`, nothing else
 *    happens; the holder drops its units and opens a new lease id); with `granted` = 0 and not
 *    `close`, the lease opens (a record is kept only once units are granted);
 *  - a record: U = max(U, min(used, G)); a close gives back G - U and deletes the record;
 *    otherwise it grants up to `want` (at most floor((limit - counter) / quotaDivisor), none
 *    while a reclaim hold is on), records `window`, and expires the record `leaseTtlMs` from now.
 */
export interface QuotaLeaseOp {
  kind: 'quota-lease';
  subject: string;
  quota: QuotaPart;
  /** Names the lease among the holder's; a new id after every close or expiry. */
  lease: string;
  /** Units of this lease the holder has seen granted so far (0 while it has seen none). */
  granted: number;
  /** Units of this lease the holder has admitted so far (cumulative, never decreasing). */
  used: number;
  /** Ends the lease: every unit granted and not used goes back. */
  close: boolean;
  /** Units the holder asks for on top (0 to ask for none). */
  want: number;
  /** Lifetime of the lease record from now, in ms. */
  leaseTtlMs: number;
  /** Most units the holder admits beyond its last acknowledged report: kept counted on expiry. */
  window: number;
}

/** Change this holder's share of one token bucket: give back, keep, take more. */
export interface RateLeaseOp {
  kind: 'rate-lease';
  rateSubject: string;
  rate: RatePart;
  keep: number;
  ret: number;
  want: number;
  shareTtlMs: number;
}

export type LeaseOp = DecideOp | QuotaLeaseOp | RateLeaseOp;

export interface LeaseCall {
  /** Unique per process: a restarted gateway is a new holder and never gives back the old one's units. */
  holder: string;
  /** Store clock override in ms (tests, model comparison); null: the store's own clock. */
  nowMs: number | null;
  ops: LeaseOp[];
}

export interface DecideReply {
  kind: 'decide';
  outcome: 'allowed' | 'quota' | 'rate' | 'wait';
  /** Counter before this request (units reserved in the period). 0 without a quota. */
  used: number;
  /** Bucket tokens after this request (or at the refusal); null without a rate. */
  tokens: number | null;
}

export interface QuotaLeaseReply {
  kind: 'quota-lease';
  granted: number;
  /** Counter after this op. */
  used: number;
  /** The lease was not there although the holder had seen units granted: it expired. */
  expired: boolean;
  /** Units this op gave back (a close: G - U). */
  returned: number;
}

export interface RateLeaseReply {
  kind: 'rate-lease';
  granted: number;
  /** Units of `keep` the store accepted (less only when the holder's share had expired there). */
  kept: number;
  /** Bucket tokens after this op (not counting any share). */
  tokens: number;
}

export type LeaseReply = DecideReply | QuotaLeaseReply | RateLeaseReply;

/**
 * Published by the store: 'reclaim' asks every holder of the subject's period to give back its
 * unused units; 'returned' tells waiters that a holder gave some back.
 */
export interface LeaseNotice {
  kind: 'reclaim' | 'returned';
  subject: string;
  periodId: number;
}

/** Sizes of blocks and shares, and how long a reclaim suspends new blocks. The same on every gateway. */
export interface LeasePolicy {
  /** A quota block is at most free / quotaDivisor (free = limit - counter): blocks shrink with it. */
  quotaDivisor: number;
  /** A rate share is at most tokens / rateDivisor. */
  rateDivisor: number;
  /** After a reclaim, no quota blocks for this long (every request asks the store), in ms. */
  reclaimHoldMs: number;
}

export const DEFAULT_LEASE_POLICY: LeasePolicy = {
  quotaDivisor: 16,
  rateDivisor: 2,
  reclaimHoldMs: 2_000,
};

export interface LeaseStore {
  /**
   * Runs the ops in order as one atomic step; one reply per op. Rejects when the store cannot be
   * reached or does not answer in time: then the call may or may not have been applied.
   */
  run(call: LeaseCall): Promise<LeaseReply[]>;
  /** Gives back `cost` units of a request that did not count; never below zero. */
  refund(subject: string, periodId: number, cost: number): Promise<void>;
  /** Receives the store's notices. */
  listen(listener: (notice: LeaseNotice) => void): void;
  /** Script calls made so far (the "Redis calls per 1,000 requests" figure). */
  calls(): number;
}
