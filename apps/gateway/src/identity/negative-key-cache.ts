/**
 * "No such key" answers, kept apart from the real keys' LRU (key-cache.ts): well-formed fake
 * keys cost nothing to make (the checksum is public), and in a shared cache each of them would
 * push a real key out. Bounded on its own; every entry lives the same TTL, so insertion order is
 * expiry order and evicting the oldest entry also evicts the one closest to expiring.
 * Stores only the expiry time per hash: no entry objects.
 */
export class NegativeKeyCache {
  private readonly expiry = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
  ) {}

  has(hash: string, now: number): boolean {
    const until = this.expiry.get(hash);
    if (until === undefined) return false;
    if (until > now) return true;
    this.expiry.delete(hash);
    return false;
  }

  add(hash: string, now: number): void {
    if (this.expiry.has(hash)) this.expiry.delete(hash);
    else if (this.expiry.size >= this.max) {
      const oldest = this.expiry.keys().next();
      if (oldest.done !== true) this.expiry.delete(oldest.value);
    }
    this.expiry.set(hash, now + this.ttlMs);
  }

  delete(hash: string): void {
    this.expiry.delete(hash);
  }

  clear(): void {
    this.expiry.clear();
  }

  get size(): number {
    return this.expiry.size;
  }
}
