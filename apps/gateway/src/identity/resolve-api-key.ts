import { hashApiKey, parseApiKey } from '@tollgate/core';
import type { KeyRecord } from '../control-plane/types.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { TtlLru } from './key-cache.ts';

export interface ApiKeyResolverOptions {
  /** Positive entries live this long (≤ 5 s): the bound on how long a revoked key keeps working. */
  ttlMs: number;
  /** "No such key" answers live this long. */
  negativeTtlMs: number;
  maxEntries: number;
}

export type KeyVerdict =
  | { ok: true; key: KeyRecord }
  | {
      ok: false;
      code: 'KEY_MALFORMED' | 'KEY_UNKNOWN' | 'KEY_REVOKED' | 'KEY_EXPIRED' | 'KEY_LOOKUP_FAILED';
    };

const MALFORMED: KeyVerdict = { ok: false, code: 'KEY_MALFORMED' };
const UNKNOWN: KeyVerdict = { ok: false, code: 'KEY_UNKNOWN' };
const REVOKED: KeyVerdict = { ok: false, code: 'KEY_REVOKED' };
const EXPIRED: KeyVerdict = { ok: false, code: 'KEY_EXPIRED' };
const LOOKUP_FAILED: KeyVerdict = { ok: false, code: 'KEY_LOOKUP_FAILED' };

/**
 * API key verification: checksum first (a bad key never reaches the cache or Postgres), then the
 * SHA-256 hash through a bounded LRU with TTL and negative caching, then Postgres (concurrent
 * misses for one hash share a single query). Revocation and expiry are checked on every request
 * against the cached row, so a key past `expires_at` stops at once, and a revoked key stops
 * within `ttlMs` (at once on instances that receive the api_keys notification: `clear()`).
 * While Postgres is unreachable, expired cache entries are used rather than refusing every caller.
 */
export class ApiKeyResolver {
  private readonly cache: TtlLru<KeyRecord | null>;
  private readonly inflight = new Map<string, Promise<KeyRecord | null>>();
  private generation = 0;
  private readonly hits;
  private readonly negativeHits;
  private readonly misses;

  constructor(
    private readonly lookup: (hash: string) => Promise<KeyRecord | null>,
    private readonly opts: ApiKeyResolverOptions,
    private readonly metrics: GatewayMetrics,
  ) {
    this.cache = new TtlLru(opts.maxEntries);
    this.hits = metrics.keyCache.labels('hit');
    this.negativeHits = metrics.keyCache.labels('negative_hit');
    this.misses = metrics.keyCache.labels('miss');
  }

  /** Synchronous answer when the cache can give one (the hot path); otherwise a promise. */
  resolve(key: string, now: number): KeyVerdict | Promise<KeyVerdict> {
    if (!parseApiKey(key).ok) return MALFORMED;
    const hash = hashApiKey(key);
    const entry = this.cache.get(hash);
    if (entry !== undefined && entry.expiresAt > now) {
      (entry.value === null ? this.negativeHits : this.hits).inc();
      return verdict(entry.value, now);
    }
    this.misses.inc();
    return this.load(hash, entry?.value, now);
  }

  private async load(hash: string, stale: KeyRecord | null | undefined, now: number): Promise<KeyVerdict> {
    let p = this.inflight.get(hash);
    if (p === undefined) {
      p = this.lookup(hash);
      this.inflight.set(hash, p);
      const generation = this.generation;
      p.then(
        (rec) => {
          this.inflight.delete(hash);
          // A row read before a clear() (a change notification) is not cached: it may be stale.
          if (generation !== this.generation) return;
          const t = Date.now();
          this.cache.set(hash, rec, t + (rec === null ? this.opts.negativeTtlMs : this.opts.ttlMs));
        },
        () => this.inflight.delete(hash),
      );
    }
    try {
      return verdict(await p, now);
    } catch {
      this.metrics.keyLookupErrors.inc();
      if (stale !== undefined) return verdict(stale, now);
      return LOOKUP_FAILED;
    }
  }

  /** Drops every cached answer (on an api_keys or consumers change notification). */
  clear(): void {
    this.generation++;
    this.inflight.clear();
    this.cache.clear();
  }
}

function verdict(rec: KeyRecord | null, now: number): KeyVerdict {
  if (rec === null) return UNKNOWN;
  if (rec.revokedAt !== null && rec.revokedAt.getTime() <= now) return REVOKED;
  if (rec.expiresAt !== null && rec.expiresAt.getTime() <= now) return EXPIRED;
  return { ok: true, key: rec };
}
