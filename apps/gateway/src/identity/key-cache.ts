/**
 * Bounded LRU with per-entry expiry, for the API keys Postgres found (unknown keys have a cache
 * of their own, negative-key-cache.ts, so fake keys cannot push real ones out).
 * A Map keeps insertion order: a hit re-inserts the entry at the end, eviction takes the first.
 */
interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class TtlLru<V> {
  private readonly map = new Map<string, Entry<V>>();
  constructor(private readonly max: number) {}

  /** The entry even when expired (the caller checks `expiresAt`: stale entries serve while the store is down). */
  get(key: string): Entry<V> | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    // Refresh recency without allocating: delete and re-insert the same entry.
    this.map.delete(key);
    this.map.set(key, e);
    return e;
  }

  set(key: string, value: V, expiresAt: number): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.max) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
    this.map.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
