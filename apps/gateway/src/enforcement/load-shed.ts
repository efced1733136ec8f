import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type { CounterCell } from '../metric-cells.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { defineProblem, type Problem } from '../problem.ts';
import type { RequestRecord } from '../request-record.ts';

/**
 * Load shedding: a saturated gateway refuses new requests itself, first and cheaply, with
 * 503 OVERLOADED + Retry-After, instead of taking them in and letting them fail later (a Redis
 * limiter call that cannot be read back in time is a 503 LIMITER_UNAVAILABLE after the work
 * was done; an unbounded backlog is unbounded latency for everyone). Two rules:
 *
 * - In flight: at most `maxInFlight` requests of this process between their first byte and
 *   their finish (each holds sockets, buffers and an upstream slot).
 * - Loop lag: a probe timer every PROBE_MS measures how late it fires and how busy the loop
 *   was (event-loop utilization) since the last probe; both are smoothed (EWMA). While the
 *   smoothed lag exceeds `maxLoopLagMs`, the loop was busy (utilization ≥ BUSY) and at least
 *   `minInFlight` requests are in flight, every new request is shed. Saturation by requests is
 *   all three at once: the loop lags because each turn has many requests' work. The utilization
 *   condition keeps a gateway that lags because the machine is overcommitted (its process waits
 *   for a CPU while idle) from shedding; the in-flight floor keeps a few requests that happen to
 *   meet a slow turn (a GC pause, a configuration compile) from being shed, since shedding them
 *   would not shorten the turn. The floor counts the requests the loop works for: not those
 *   whose body is still arriving (watched by the minimum body rate), which cost it nothing
 *   between chunks; otherwise a slow-body attack (hundreds parked in flight) on a lagging
 *   machine would shed the paying consumers beside it. The smoothing keeps one long turn from shedding the requests
 *   that queued behind it. A closed-loop client with C connections cannot lag the loop by more
 *   than C requests' worth of CPU per turn (50 connections × ~80 µs ≈ 4 ms), and holds at most C
 *   in flight: the benchmark's own load is never shed. The default bound (20 ms) sits under the
 *   limiter's default timeout (50 ms), so the gateway sheds before its own lag makes limiter
 *   calls late.
 */
export interface LoadShedOptions {
  /** Requests in flight in this process; 0 disables. */
  maxInFlight: number;
  /** Smoothed event-loop lag (ms) above which a busy gateway sheds; 0 disables. */
  maxLoopLagMs: number;
  /** Requests in flight below which the loop-lag rule does not shed. Default MIN_IN_FLIGHT. */
  minInFlight?: number;
}

/** Default floor of the loop-lag rule: a lag of 20 ms takes ~250 requests of ~80 µs in a turn. */
export const MIN_IN_FLIGHT = 64;

const PROBE_MS = 10;
/** EWMA weight of the newest probe: a lag must last about four probes to count in full. */
const ALPHA = 0.3;
/** Utilization above which the loop counts as busy. */
const BUSY = 0.9;

const NO_BODIES = { size: 0 };

export const OVERLOADED = defineProblem({
  status: 503,
  code: 'OVERLOADED',
  detail: 'The gateway is overloaded; retry shortly.',
  retryAfterS: 1,
});

export class LoadShedder {
  /** Requests admitted by the shedder and not finished. */
  inFlight = 0;
  /** Smoothed lag of the probe timer, ms (read by metrics and tests). */
  smoothedLagMs = 0;
  /** Smoothed event-loop utilization, 0..1. */
  smoothedUtilization = 0;
  /** Lagging and busy (shedding once enough requests are in flight). */
  private overloaded = false;
  private readonly maxInFlight: number;
  private readonly minInFlight: number;
  private readonly timer: NodeJS.Timeout | null = null;
  private lastProbe = performance.now();
  private lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly byInFlight: CounterCell;
  private readonly byLoopLag: CounterCell;

  constructor(
    private readonly opts: LoadShedOptions,
    metrics: GatewayMetrics,
    /** Requests in flight whose body is still arriving (the body-rate guard's watch list). */
    private readonly bodiesArriving: { readonly size: number } = NO_BODIES,
  ) {
    this.maxInFlight = opts.maxInFlight > 0 ? opts.maxInFlight : Number.POSITIVE_INFINITY;
    this.minInFlight = opts.minInFlight ?? MIN_IN_FLIGHT;
    this.byInFlight = metrics.shed.labels('in_flight');
    this.byLoopLag = metrics.shed.labels('loop_lag');
    if (opts.maxLoopLagMs > 0) {
      this.timer = setInterval(this.probe, PROBE_MS);
      this.timer.unref();
    }
  }

  /** Null: the request may proceed (and counts as in flight); else the refusal. */
  enter(r: RequestRecord): Problem | null {
    if (this.overloaded && this.working >= this.minInFlight) {
      this.byLoopLag.inc();
      return OVERLOADED;
    }
    if (this.inFlight >= this.maxInFlight) {
      this.byInFlight.inc();
      return OVERLOADED;
    }
    this.inFlight++;
    r.inFlight = true;
    return null;
  }

  /** A request counted by `enter` finished. */
  leave(): void {
    this.inFlight--;
  }

  /** One probe (the timer's job; public for tests, which pass the lag and utilization). */
  observe(lagMs: number, utilization: number): void {
    this.smoothedLagMs += (lagMs - this.smoothedLagMs) * ALPHA;
    this.smoothedUtilization += (utilization - this.smoothedUtilization) * ALPHA;
    this.overloaded = this.smoothedLagMs > this.opts.maxLoopLagMs && this.smoothedUtilization >= BUSY;
  }

  /** The loop-lag rule refuses new requests now. */
  get isShedding(): boolean {
    return this.overloaded && this.working >= this.minInFlight;
  }

  /** Requests in flight the loop works for (the loop-lag rule's floor). */
  private get working(): number {
    return this.inFlight - this.bodiesArriving.size;
  }

  private readonly probe = (): void => {
    const now = performance.now();
    const lag = Math.max(0, now - this.lastProbe - PROBE_MS);
    this.lastProbe = now;
    const elu = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(elu, this.lastElu);
    this.lastElu = elu;
    this.observe(lag, delta.utilization);
  };

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }
}
