/**
 * Minimum request-body rate. A request body streams to the upstream while it arrives, so a
 * client that trickles its body holds an upstream connection for as long as it likes (Node's
 * request timeout, 120 s by default, was the only bound). Once a body is dispatched, it must
 * arrive at `minBytesPerS` on average, measured after `graceMs`; a slower one is cut (the
 * pipeline answers 408 and aborts the upstream request).
 *
 * Time spent with the body paused is not the client's fault (the upstream is not reading, or
 * the gateway is writing slowly): a sweep that finds the body paused restarts its measurement.
 *
 * The watched bodies form an intrusive doubly linked list (O(1) add and remove, no allocation);
 * one interval timer, running only while bodies are watched, sweeps them.
 */

export interface WatchedBody {
  /** Bytes of the body read so far (maintained by the pipeline). */
  readonly bytesIn: number;
  bodyWatchFrom: number;
  bodyWatchBytes: number;
  bodyWatchPrev: WatchedBody | null;
  bodyWatchNext: WatchedBody | null;
  bodyWatched: boolean;
  /** True once the body has arrived completely. */
  bodyDone(): boolean;
  /** True while the body stream is paused by backpressure. */
  bodyPaused(): boolean;
  /** The body is too slow: answer 408 and abort the upstream request. */
  cutSlowBody(): void;
}

export interface BodyRateOptions {
  /** 0 disables the check. */
  minBytesPerS: number;
  graceMs: number;
}

export class BodyRateGuard {
  private head: WatchedBody | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly sweepMs: number;
  private watched = 0;

  constructor(
    private readonly opts: BodyRateOptions,
    private readonly clock: () => number = Date.now,
  ) {
    this.sweepMs = Math.max(25, Math.min(1_000, Math.floor(opts.graceMs / 4)));
  }

  get enabled(): boolean {
    return this.opts.minBytesPerS > 0;
  }

  get size(): number {
    return this.watched;
  }

  watch(body: WatchedBody): void {
    if (!this.enabled || body.bodyWatched) return;
    body.bodyWatched = true;
    body.bodyWatchFrom = this.clock();
    body.bodyWatchBytes = body.bytesIn;
    body.bodyWatchPrev = null;
    body.bodyWatchNext = this.head;
    if (this.head !== null) this.head.bodyWatchPrev = body;
    this.head = body;
    this.watched++;
    if (this.timer === null) {
      this.timer = setInterval(this.sweepNow, this.sweepMs);
      this.timer.unref();
    }
  }

  unwatch(body: WatchedBody): void {
    if (!body.bodyWatched) return;
    body.bodyWatched = false;
    const prev = body.bodyWatchPrev;
    const next = body.bodyWatchNext;
    if (prev === null) this.head = next;
    else prev.bodyWatchNext = next;
    if (next !== null) next.bodyWatchPrev = prev;
    body.bodyWatchPrev = null;
    body.bodyWatchNext = null;
    this.watched--;
    if (this.watched === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** One pass over the watched bodies (the timer's job; public for tests). */
  sweep(now: number): void {
    const { minBytesPerS, graceMs } = this.opts;
    let body = this.head;
    while (body !== null) {
      const next = body.bodyWatchNext;
      if (body.bodyDone()) this.unwatch(body);
      else if (body.bodyPaused()) {
        body.bodyWatchFrom = now;
        body.bodyWatchBytes = body.bytesIn;
      } else {
        const elapsed = now - body.bodyWatchFrom;
        if (elapsed >= graceMs && body.bytesIn - body.bodyWatchBytes < (minBytesPerS * elapsed) / 1000) {
          this.unwatch(body);
          body.cutSlowBody();
        }
      }
      body = next;
    }
  }

  private readonly sweepNow = (): void => this.sweep(this.clock());

  close(): void {
    while (this.head !== null) this.unwatch(this.head);
  }
}
