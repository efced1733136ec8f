/** Time and deferral for a LeasingLimiter: real timers in production, a manual one in the model tests. */
export interface LeaseScheduler {
  /** Monotonic milliseconds (never jumps with the wall clock). */
  now(): number;
  /** Runs `fn` once the current turn's work is done (setImmediate). */
  soon(fn: () => void): void;
  /** Runs `fn` after `ms`; never keeps the process alive. Returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export const realLeaseScheduler: LeaseScheduler = {
  now: () => performance.now(),
  soon: (fn) => {
    setImmediate(fn);
  },
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
