/**
 * The budget of unknown-key lookups per client address: a token bucket per address (refilled at
 * `perSecond`, holding at most `burst`). A key with no cache entry takes a token before it may go
 * to Postgres; when the key turns out to exist, the token is given back, so only unknown keys
 * spend the budget. An address without tokens is refused without a lookup.
 *
 * The buckets are bounded (`maxAddresses`, least recently used out first): an evicted address
 * starts again with a full bucket, which is at most `burst` more lookups for it.
 */
interface Bucket {
  tokens: number;
  at: number;
}

export interface KeyLookupBudgetOptions {
  perSecond: number;
  burst: number;
  maxAddresses: number;
}

export class KeyLookupBudget {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly opts: KeyLookupBudgetOptions) {}

  /** Takes one token for `address`; false when its budget is spent. */
  take(address: string, now: number): boolean {
    const b = this.bucket(address, now);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Returns a token taken for a lookup that found a real key. */
  giveBack(address: string, now: number): void {
    const b = this.buckets.get(address);
    if (b === undefined) return;
    this.refill(b, now);
    b.tokens = Math.min(this.opts.burst, b.tokens + 1);
  }

  /** Seconds until `address` has a token again (at least 1: the Retry-After of a refusal). */
  retryAfterS(): number {
    return Math.max(1, Math.ceil(1 / this.opts.perSecond));
  }

  get size(): number {
    return this.buckets.size;
  }

  private bucket(address: string, now: number): Bucket {
    let b = this.buckets.get(address);
    if (b !== undefined) {
      // Most recently used last: delete and re-insert the same object.
      this.buckets.delete(address);
      this.buckets.set(address, b);
      this.refill(b, now);
      return b;
    }
    if (this.buckets.size >= this.opts.maxAddresses) {
      const oldest = this.buckets.keys().next();
      if (oldest.done !== true) this.buckets.delete(oldest.value);
    }
    b = { tokens: this.opts.burst, at: now };
    this.buckets.set(address, b);
    return b;
  }

  private refill(b: Bucket, now: number): void {
    if (now > b.at) {
      b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) * this.opts.perSecond) / 1000);
      b.at = now;
    }
  }
}
