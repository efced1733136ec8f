import { MemoryLeaseStore } from '../../memory/memory-lease-store.ts';
import type { LimitDecision, LimitRequest } from '../../ports.ts';
import { quotaPeriodId } from '../../ports.ts';
import type { LeaseScheduler } from '../lease-scheduler.ts';
import type { LeaseCall, LeaseNotice, LeasePolicy, LeaseReply, LeaseStore } from '../lease-store.ts';
import { LeasingLimiter, type LeasingLimiterOptions } from '../leasing-limiter.ts';

/**
 * A world for the leasing model tests: one MemoryLeaseStore, N gateways each with a LeasingLimiter,
 * one manual clock, and a network the test drives step by step: a gateway's calls are executed by
 * the store, their replies delivered, or lost (before or after the store ran them), in whatever
 * order the test chooses. Nothing runs by itself: a gateway's deferred work (`soon`), its timers
 * and the notices it receives all wait for the test. The world keeps the accounting the
 * invariants are checked against: what was admitted, and which units a lost decision or refund
 * stranded (units in leases come back by a close or by the lease's expiry, less its window: the
 * store counts those itself).
 */
export const DAY_MS = 86_400_000;
const LONG_JUMP_MS = 10_000;

interface WireCall {
  call: LeaseCall | null;
  refund: { subject: string; periodId: number; cost: number } | null;
  resolve: (replies: LeaseReply[]) => void;
  reject: (err: unknown) => void;
  replies: LeaseReply[] | null;
}

export interface Admission {
  gateway: number;
  cost: number;
  periodId: number;
  /** Store time at which its units (and tokens) were taken: the local decision, or the store's run. */
  takenAt: number;
  refunded: boolean;
  subject: string;
  quota: LimitRequest['quota'];
}

class ManualScheduler implements LeaseScheduler {
  soonQueue: (() => void)[] = [];
  timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  constructor(private readonly world: LeaseWorld) {}
  now(): number {
    return this.world.time;
  }
  soon(fn: () => void): void {
    this.soonQueue.push(fn);
  }
  after(ms: number, fn: () => void): () => void {
    const t = { at: this.world.time + ms, fn, cancelled: false };
    this.timers.push(t);
    return () => {
      t.cancelled = true;
    };
  }
}

class WireStore implements LeaseStore {
  outbox: WireCall[] = [];
  executed: WireCall[] = [];
  notices: LeaseNotice[] = [];
  listener: ((n: LeaseNotice) => void) | null = null;
  private count = 0;
  run(call: LeaseCall): Promise<LeaseReply[]> {
    this.count += 1;
    return new Promise((resolve, reject) => {
      this.outbox.push({ call, refund: null, resolve, reject, replies: null });
    });
  }
  refund(subject: string, periodId: number, cost: number): Promise<void> {
    this.count += 1;
    return new Promise((resolve, reject) => {
      this.outbox.push({
        call: null,
        refund: { subject, periodId, cost },
        resolve: () => resolve(),
        reject,
        replies: null,
      });
    });
  }
  listen(listener: (n: LeaseNotice) => void): void {
    this.listener = listener;
  }
  calls(): number {
    return this.count;
  }
}

export class Gateway {
  readonly sched: ManualScheduler;
  readonly wire = new WireStore();
  readonly limiter: LeasingLimiter;
  alive = true;
  constructor(
    world: LeaseWorld,
    readonly index: number,
    readonly holder: string,
    opts: Partial<LeasingLimiterOptions>,
  ) {
    this.sched = new ManualScheduler(world);
    this.limiter = new LeasingLimiter({
      ...opts,
      store: this.wire,
      holder,
      scheduler: this.sched,
      clock: { now: () => world.time },
      policy: world.policy,
    });
  }
}

export class LeaseWorld {
  time: number;
  readonly store: MemoryLeaseStore;
  readonly gateways: Gateway[] = [];
  readonly admissions: Admission[] = [];
  /** Every time tokens left a bucket for a request (a local decision, or the store's run of one). */
  readonly tokensTaken: { at: number; cost: number }[] = [];
  /**
   * Units counted by the store for requests nobody admitted (a decision whose answer was lost)
   * or refunded (a refund that never ran), per period.
   */
  readonly stranded = new Map<number, number>();
  refusals = 0;
  failures = 0;
  crashes = 0;
  lostCalls = 0;
  private holders = 0;

  constructor(
    start: number,
    readonly policy: LeasePolicy,
    private readonly opts: Partial<LeasingLimiterOptions>,
  ) {
    this.time = start;
    this.store = new MemoryLeaseStore({ now: () => this.time }, policy);
    this.store.listen((n) => {
      for (const g of this.gateways) if (g.alive) g.wire.notices.push(n);
    });
  }

  addGateway(): Gateway {
    this.holders += 1;
    const g = new Gateway(this, this.gateways.length, `gw-${this.holders}`, this.opts);
    this.gateways.push(g);
    return g;
  }

  /** Replaces a crashed gateway by a fresh process (a new holder). */
  restart(index: number): void {
    const old = this.gateways[index]!;
    if (old.alive) return;
    // Calls the dead process still had on the wire never run (its connection is gone).
    for (const w of old.wire.outbox) {
      this.lostCalls += 1;
      this.strandLost(w, false);
    }
    old.wire.outbox = [];
    this.holders += 1;
    this.gateways[index] = new Gateway(this, index, `gw-${this.holders}`, this.opts);
  }

  private strand(periodId: number, units: number): void {
    if (units > 0) this.stranded.set(periodId, (this.stranded.get(periodId) ?? 0) + units);
  }

  /** One request on gateway `index`; its outcome is recorded when it is decided. */
  request(index: number, req: Omit<LimitRequest, 'now'>): void {
    const g = this.gateways[index]!;
    if (!g.alive) return;
    const full: LimitRequest = { ...req, now: this.time };
    const periodId = req.quota === null ? -1 : quotaPeriodId(req.quota.periodStart);
    const record = (d: LimitDecision, takenAt: number) => {
      if (!g.alive) return;
      if (d.allowed) {
        this.admissions.push({
          gateway: index,
          cost: req.cost,
          periodId,
          takenAt,
          refunded: false,
          subject: req.subject,
          quota: req.quota,
        });
      } else this.refusals += 1;
    };
    const out = g.limiter.check(full);
    if ('then' in out) {
      out.then(
        (d) => record(d, this.time),
        () => {
          this.failures += 1;
        },
      );
    } else {
      if (out.allowed && req.rate !== null) this.tokensTaken.push({ at: this.time, cost: req.cost });
      record(out, this.time);
    }
  }

  /** Refunds the oldest admission of gateway `index` not refunded yet. */
  refund(index: number): void {
    const g = this.gateways[index]!;
    if (!g.alive) return;
    const a = this.admissions.find((x) => x.gateway === index && !x.refunded && x.quota !== null);
    if (a === undefined) return;
    a.refunded = true;
    g.limiter.refund({ subject: a.subject, cost: a.cost, quota: a.quota }).catch(() => {
      this.failures += 1;
    });
  }

  /** Runs the gateway's deferred work (its flushes send calls). */
  runSoon(index: number): void {
    const g = this.gateways[index]!;
    if (!g.alive) return;
    for (let guard = 0; g.sched.soonQueue.length > 0 && guard < 100; guard++) {
      const queue = g.sched.soonQueue;
      g.sched.soonQueue = [];
      for (const fn of queue) fn();
    }
  }

  /** The store runs the oldest call gateway `index` sent (also for a crashed one: it was on the wire). */
  execute(index: number): boolean {
    const g = this.gateways[index]!;
    const w = g.wire.outbox.shift();
    if (w === undefined) return false;
    if (w.call !== null) {
      const replies = this.store.apply({ ...w.call, nowMs: this.time });
      w.call.ops.forEach((op, i) => {
        const r = replies[i];
        if (op.kind === 'decide' && op.rate !== null && r?.kind === 'decide' && r.outcome === 'allowed') {
          this.tokensTaken.push({ at: this.time, cost: op.cost });
        }
      });
      w.replies = replies;
    } else if (w.refund !== null) {
      void this.store.refund(w.refund.subject, w.refund.periodId, w.refund.cost);
      w.replies = [];
    }
    if (g.alive) g.wire.executed.push(w);
    else this.strandLost(w, true);
    return true;
  }

  /** Delivers the oldest executed reply to gateway `index`. */
  deliver(index: number): boolean {
    const g = this.gateways[index]!;
    const w = g.wire.executed.shift();
    if (w === undefined || !g.alive) return false;
    w.resolve(w.replies!);
    return true;
  }

  /** Loses gateway `index`'s oldest call: before the store ran it, or its reply after. */
  lose(index: number, beforeRun: boolean): void {
    const g = this.gateways[index]!;
    if (!g.alive) return;
    let w: WireCall | undefined;
    let ran: boolean;
    if (beforeRun && g.wire.outbox.length > 0) {
      w = g.wire.outbox.shift();
      ran = false;
    } else {
      w = g.wire.executed.shift();
      ran = true;
    }
    if (w === undefined) return;
    this.lostCalls += 1;
    this.strandLost(w, ran);
    w.reject(new Error('lost'));
  }

  /** What a call whose outcome never reaches its holder leaves counted and unusable. */
  private strandLost(w: WireCall, ran: boolean): void {
    if (w.call === null) {
      // A refund that never ran leaves its units counted (the request was refunded already).
      if (!ran && w.refund !== null) this.strand(w.refund.periodId, w.refund.cost);
      return;
    }
    w.call.ops.forEach((op, i) => {
      const reply = w.replies?.[i];
      if (op.kind === 'decide' && op.quota !== null) {
        if (ran && reply?.kind === 'decide' && reply.outcome === 'allowed')
          this.strand(op.quota.periodId, op.cost);
      }
    });
  }

  /** Delivers gateway `index`'s notices. */
  notices(index: number): void {
    const g = this.gateways[index]!;
    if (!g.alive) return;
    const list = g.wire.notices;
    g.wire.notices = [];
    for (const n of list) g.wire.listener?.(n);
  }

  /** SIGKILL: the gateway stops; calls on the wire may still run, their replies go nowhere. */
  crash(index: number): void {
    const g = this.gateways[index]!;
    if (!g.alive) return;
    g.alive = false;
    this.crashes += 1;
    // Its leases expire in the store; decisions it never saw answered stay counted.
    for (const w of g.wire.executed) this.strandLost(w, true);
    g.wire.executed = [];
  }

  /**
   * Moves the clock and fires every timer that is due (gateways that are alive). A jump longer
   * than `LONG_JUMP_MS` (a period rollover) runs its first `LONG_JUMP_MS` timer by timer, then
   * lands at the end and fires what is due once: a process whose timers ran late, which
   * setTimeout allows, and not a day of sweeps one by one.
   */
  advance(ms: number): void {
    if (ms > LONG_JUMP_MS) {
      this.advanceTimers(LONG_JUMP_MS);
      this.time += ms - LONG_JUMP_MS;
      this.advanceTimers(0);
      return;
    }
    this.advanceTimers(ms);
  }

  private advanceTimers(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      let next: { g: Gateway; t: { at: number; fn: () => void; cancelled: boolean } } | null = null;
      for (const g of this.gateways) {
        if (!g.alive) continue;
        for (const t of g.sched.timers) {
          if (!t.cancelled && t.at <= until && (next === null || t.at < next.t.at)) next = { g, t };
        }
      }
      if (next === null) break;
      this.time = Math.max(this.time, next.t.at);
      next.t.cancelled = true;
      next.g.sched.timers = next.g.sched.timers.filter((t) => !t.cancelled);
      next.t.fn();
    }
    this.time = until;
  }

  /** Runs every alive gateway until nothing is left to do (no losses): the world at rest. */
  async settle(maxRounds = 10_000): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const g of this.gateways) {
        if (!g.alive) {
          while (this.execute(g.index)) busy = true;
          continue;
        }
        if (g.sched.soonQueue.length > 0) {
          this.runSoon(g.index);
          busy = true;
        }
        while (this.execute(g.index)) busy = true;
        while (this.deliver(g.index)) busy = true;
        if (g.wire.notices.length > 0) {
          this.notices(g.index);
          busy = true;
        }
      }
      await drain();
      if (!busy) return;
    }
    throw new Error('the world did not settle');
  }

  /** Settles, then lets time pass (timers fire) until every lease went back. */
  async quiesce(totalMs: number, stepMs: number): Promise<void> {
    await this.settle();
    for (let t = 0; t < totalMs; t += stepMs) {
      this.advance(stepMs);
      await this.settle();
    }
  }

  netAdmitted(periodId: number): number {
    let n = 0;
    for (const a of this.admissions) if (a.periodId === periodId && !a.refunded) n += a.cost;
    return n;
  }
}

/**
 * Lets promise callbacks run (replies handled, decisions recorded): a reply reaches its decision
 * in a few microtask hops, and no macrotask is involved (the world's timers are manual).
 */
export async function drain(): Promise<void> {
  for (let hop = 0; hop < 16; hop++) await Promise.resolve();
}
