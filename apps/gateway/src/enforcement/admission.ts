/**
 * Admission control: how many requests one caller may have in flight, and how much of one
 * upstream pool.
 *
 * - Per client address: anonymous requests (public routes) in flight per address (an IPv6
 *   client per /64, see proxy/client-address.ts). Identified requests count against their
 *   consumer instead, so anonymous traffic from a shared address (NAT, office) cannot crowd out
 *   a paying consumer behind it; unknown-key traffic is bounded by the key lookup budget.
 * - Per consumer: requests in flight per consumer, over every API.
 * - Per upstream pool (a target of C connections): a holder (a consumer; all anonymous traffic
 *   together is one holder) may always have S = floor(C × share) requests on the target; past S
 *   only while the target has more than S connections' worth of room left (total < C − S). A
 *   caller alone can use most of the pool, and a newcomer always finds S connections that no
 *   greedy holder can take: 128 slow bodies can no longer hold every connection.
 *
 * Everything is a counter in a Map keyed by a string the exchange already has: O(1) per request,
 * no allocation beyond the Map's own storage (entries are deleted at zero, so the maps are
 * bounded by the requests in flight). Each acquisition is recorded on the exchange (`Hold`) and
 * released by `release()`, which the pipeline calls once, when it finalizes the exchange.
 */

/** What one exchange holds; the pipeline's Exchange carries these fields. */
export interface AdmissionHold {
  heldAddress: string | null;
  heldConsumer: string | null;
  heldTarget: TargetLoad | null;
  /** The consumer the target slot counts for; null: the anonymous holder. */
  heldTargetConsumer: string | null;
}

export interface AdmissionOptions {
  /** Anonymous requests in flight per client address; 0 disables. */
  maxPerAddress: number;
  /** Requests in flight per consumer; 0 disables. */
  maxPerConsumer: number;
  /** Fraction (0, 1] of a target's connections one holder is guaranteed; 1 disables the check. */
  upstreamShare: number;
}

/** A target's connection count, as the admission module needs it (proxy/upstream.ts's Target). */
export interface PooledTarget {
  readonly connections: number;
}

/** Requests in flight on one target, by holder. */
export class TargetLoad {
  total = 0;
  anonymous = 0;
  readonly byConsumer = new Map<string, number>();
  /** S: what every holder may always have. */
  readonly share: number;
  /** C − S: above this total, holders at S or more are refused. */
  readonly roomBound: number;

  constructor(connections: number, share: number) {
    this.share = share >= 1 ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(connections * share));
    this.roomBound = connections - this.share;
  }
}

export class Admission {
  private readonly byAddress = new Map<string, number>();
  private readonly byConsumer = new Map<string, number>();
  private readonly loads = new WeakMap<PooledTarget, TargetLoad>();
  /** Requests in flight, by what they count against (read by the metrics at scrape time). */
  readonly totals = { addresses: 0, consumers: 0, anonymousOnTargets: 0, consumersOnTargets: 0 };
  private readonly maxPerAddress: number;
  private readonly maxPerConsumer: number;

  constructor(private readonly opts: AdmissionOptions) {
    if (!(opts.upstreamShare > 0 && opts.upstreamShare <= 1))
      throw new RangeError('upstreamShare must be in (0, 1]');
    this.maxPerAddress = opts.maxPerAddress > 0 ? opts.maxPerAddress : Number.POSITIVE_INFINITY;
    this.maxPerConsumer = opts.maxPerConsumer > 0 ? opts.maxPerConsumer : Number.POSITIVE_INFINITY;
  }

  /** Admits an anonymous request from `address`; false when the address is at its bound. */
  enterAddress(hold: AdmissionHold, address: string): boolean {
    const n = this.byAddress.get(address) ?? 0;
    if (n >= this.maxPerAddress) return false;
    this.byAddress.set(address, n + 1);
    this.totals.addresses++;
    hold.heldAddress = address;
    return true;
  }

  /** Admits a request of `consumerId`; false when the consumer is at its bound. */
  enterConsumer(hold: AdmissionHold, consumerId: string): boolean {
    const n = this.byConsumer.get(consumerId) ?? 0;
    if (n >= this.maxPerConsumer) return false;
    this.byConsumer.set(consumerId, n + 1);
    this.totals.consumers++;
    hold.heldConsumer = consumerId;
    return true;
  }

  /**
   * Takes a slot on `target` for `consumerId` (null: anonymous); false when the holder has its
   * share and the target is short of room. A retry on another target moves the slot with
   * `force` (the request was admitted already).
   */
  enterTarget(hold: AdmissionHold, target: PooledTarget, consumerId: string | null, force: boolean): boolean {
    this.leaveTarget(hold);
    const load = this.loadOf(target);
    const held = consumerId === null ? load.anonymous : (load.byConsumer.get(consumerId) ?? 0);
    if (!force && held >= load.share && load.total >= load.roomBound) return false;
    load.total++;
    if (consumerId === null) {
      load.anonymous++;
      this.totals.anonymousOnTargets++;
    } else {
      load.byConsumer.set(consumerId, held + 1);
      this.totals.consumersOnTargets++;
    }
    hold.heldTarget = load;
    hold.heldTargetConsumer = consumerId;
    return true;
  }

  /** Gives back everything `hold` holds (idempotent). */
  release(hold: AdmissionHold): void {
    const address = hold.heldAddress;
    if (address !== null) {
      hold.heldAddress = null;
      decrement(this.byAddress, address);
      this.totals.addresses--;
    }
    const consumer = hold.heldConsumer;
    if (consumer !== null) {
      hold.heldConsumer = null;
      decrement(this.byConsumer, consumer);
      this.totals.consumers--;
    }
    this.leaveTarget(hold);
  }

  loadOf(target: PooledTarget): TargetLoad {
    let load = this.loads.get(target);
    if (load === undefined) {
      load = new TargetLoad(target.connections, this.opts.upstreamShare);
      this.loads.set(target, load);
    }
    return load;
  }

  private leaveTarget(hold: AdmissionHold): void {
    const load = hold.heldTarget;
    if (load === null) return;
    hold.heldTarget = null;
    load.total--;
    const consumer = hold.heldTargetConsumer;
    if (consumer === null) {
      load.anonymous--;
      this.totals.anonymousOnTargets--;
    } else {
      decrement(load.byConsumer, consumer);
      this.totals.consumersOnTargets--;
    }
    hold.heldTargetConsumer = null;
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = map.get(key) ?? 0;
  if (n <= 1) map.delete(key);
  else map.set(key, n - 1);
}
