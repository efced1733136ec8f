/**
 * Bounded concurrency for Postgres key lookups: at most `concurrency` queries at once, at most
 * `queue` more waiting (lookups of keys the cache knew, i.e. refreshes of real keys, wait in a
 * lane of their own that goes first). Past that, `submit` returns null at once: the caller answers
 * from a stale entry or with 503, instead of queueing without bound in the connection pool while
 * Postgres is slow. Counts what it ran, for metrics and tests.
 */
interface Waiter<T> {
  hash: string;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** A fixed-capacity FIFO (no Array#shift). */
class Ring<T> {
  private readonly items: (T | undefined)[];
  private start = 0;
  length = 0;
  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }
  push(item: T): boolean {
    if (this.length >= this.capacity) return false;
    this.items[(this.start + this.length) % this.capacity] = item;
    this.length++;
    return true;
  }
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.start];
    this.items[this.start] = undefined;
    this.start = (this.start + 1) % this.capacity;
    this.length--;
    return item;
  }
}

export interface LookupGateOptions {
  concurrency: number;
  queue: number;
}

export class LookupGate<T> {
  private running = 0;
  /** Most lookups ever running at once. */
  peak = 0;
  /** Lookups started. */
  started = 0;
  private readonly refreshes: Ring<Waiter<T>>;
  private readonly unknown: Ring<Waiter<T>>;

  constructor(
    private readonly run: (hash: string) => Promise<T>,
    private readonly opts: LookupGateOptions,
  ) {
    this.refreshes = new Ring(Math.max(1, opts.queue));
    this.unknown = new Ring(Math.max(1, opts.queue));
  }

  /** The lookup's result, or null when the gate is full (nothing was started or queued). */
  submit(hash: string, refresh: boolean): Promise<T> | null {
    if (this.running < this.opts.concurrency) return this.start(hash);
    if (this.opts.queue <= 0) return null;
    const lane = refresh ? this.refreshes : this.unknown;
    if (lane.length >= lane.capacity) return null;
    return new Promise<T>((resolve, reject) => {
      lane.push({ hash, resolve, reject });
    });
  }

  get queued(): number {
    return this.refreshes.length + this.unknown.length;
  }

  /** Lookups waiting in one lane. */
  waiting(refresh: boolean): number {
    return (refresh ? this.refreshes : this.unknown).length;
  }

  get inflight(): number {
    return this.running;
  }

  private start(hash: string): Promise<T> {
    this.running++;
    this.started++;
    if (this.running > this.peak) this.peak = this.running;
    let p: Promise<T>;
    try {
      p = this.run(hash);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(this.done, this.done);
    return p;
  }

  private readonly done = (): void => {
    this.running--;
    const next = this.refreshes.shift() ?? this.unknown.shift();
    if (next !== undefined) this.start(next.hash).then(next.resolve, next.reject);
  };
}
