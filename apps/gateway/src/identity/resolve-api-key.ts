import { hashApiKey, parseApiKey } from '@tollgate/core';
import type { KeyRecord } from '../control-plane/types.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { TtlLru } from './key-cache.ts';
import { KeyLookupBudget, type KeyLookupBudgetOptions } from './key-lookup-budget.ts';
import { LookupGate, type LookupGateOptions } from './lookup-gate.ts';
import { NegativeKeyCache } from './negative-key-cache.ts';

export interface ApiKeyResolverOptions {
  /** Positive entries live this long (≤ 5 s): the bound on how long a revoked key keeps working. */
  ttlMs: number;
  /** "No such key" answers live this long. */
  negativeTtlMs: number;
  /** Entries of the real keys' LRU. */
  maxEntries: number;
  /** Entries of the negative cache (unknown keys), bounded apart from the real keys. */
  negativeMaxEntries: number;
  /** Unknown-key lookups per client address. */
  budget: KeyLookupBudgetOptions;
  /** Concurrent Postgres lookups and how many may wait. */
  gate: LookupGateOptions;
}

export type KeyVerdict =
  | { ok: true; key: KeyRecord }
  | {
      ok: false;
      code:
        | 'KEY_MALFORMED'
        | 'KEY_UNKNOWN'
        | 'KEY_REVOKED'
        | 'KEY_EXPIRED'
        | 'KEY_LOOKUP_FAILED'
        | 'KEY_LOOKUPS_LIMITED';
    };

const MALFORMED: KeyVerdict = { ok: false, code: 'KEY_MALFORMED' };
const UNKNOWN: KeyVerdict = { ok: false, code: 'KEY_UNKNOWN' };
const REVOKED: KeyVerdict = { ok: false, code: 'KEY_REVOKED' };
const EXPIRED: KeyVerdict = { ok: false, code: 'KEY_EXPIRED' };
const LOOKUP_FAILED: KeyVerdict = { ok: false, code: 'KEY_LOOKUP_FAILED' };
const LOOKUPS_LIMITED: KeyVerdict = { ok: false, code: 'KEY_LOOKUPS_LIMITED' };

/**
 * API key verification: checksum first (a bad key never reaches the cache or Postgres), then the
 * SHA-256 hash through the real keys' bounded LRU with TTL, then the negative cache (its own
 * bound: fake keys cannot evict real ones), then Postgres:
 * - concurrent misses for one hash share a single query;
 * - a key the caches have never seen spends one token of its client address's lookup budget
 *   (given back when the key exists); an address without tokens gets KEY_LOOKUPS_LIMITED and no
 *   query: a flood of well-formed fake keys costs Postgres at most `burst + perSecond × t` lookups
 *   per address;
 * - at most `gate.concurrency` queries run, `gate.queue` more wait (refreshes of known keys
 *   first); past that a known key is answered from its stale entry, an unknown one with
 *   KEY_LOOKUP_FAILED (503), without a query.
 * Revocation and expiry are checked on every request against the cached row, so a key past
 * `expires_at` stops at once, and a revoked key stops within `ttlMs` (at once on instances that
 * receive the api_keys notification: `clear()`). While Postgres is unreachable or overloaded,
 * expired entries of real keys are used rather than refusing every caller.
 */
export class ApiKeyResolver {
  private readonly cache: TtlLru<KeyRecord>;
  private readonly negative: NegativeKeyCache;
  private readonly budget: KeyLookupBudget;
  readonly gate: LookupGate<KeyRecord | null>;
  private readonly inflight = new Map<string, Promise<KeyRecord | null>>();
  /**
   * SHA-256 of keys that were found real, by the key as sent (bounded like the cache): a cache
   * hit then costs two Map lookups instead of the checksum and SHA-256 (about 4 µs per request
   * measured). Only real keys enter, so fake keys cannot grow it; it holds the plaintext of keys
   * in use, as the process already does for every request that carries one.
   */
  private readonly knownHashes = new Map<string, string>();
  private generation = 0;
  private readonly hits;
  private readonly negativeHits;
  private readonly misses;
  private readonly found;
  private readonly notFound;
  private readonly lookupErrors;
  private readonly refusedBudget;
  private readonly refusedOverload;

  constructor(
    lookup: (hash: string) => Promise<KeyRecord | null>,
    private readonly opts: ApiKeyResolverOptions,
    private readonly metrics: GatewayMetrics,
  ) {
    this.cache = new TtlLru(opts.maxEntries);
    this.negative = new NegativeKeyCache(opts.negativeMaxEntries, opts.negativeTtlMs);
    this.budget = new KeyLookupBudget(opts.budget);
    this.gate = new LookupGate(lookup, opts.gate);
    this.hits = metrics.keyCache.labels('hit');
    this.negativeHits = metrics.keyCache.labels('negative_hit');
    this.misses = metrics.keyCache.labels('miss');
    this.found = metrics.keyLookups.labels('found');
    this.notFound = metrics.keyLookups.labels('not_found');
    this.lookupErrors = metrics.keyLookups.labels('error');
    this.refusedBudget = metrics.keyLookupsRefused.labels('budget');
    this.refusedOverload = metrics.keyLookupsRefused.labels('overload');
  }

  /** Keys whose hash is remembered (tests: only real keys, bounded). */
  get rememberedKeys(): number {
    return this.knownHashes.size;
  }

  /** Seconds a caller refused with KEY_LOOKUPS_LIMITED should wait. */
  get budgetRetryAfterS(): number {
    return this.budget.retryAfterS();
  }

  /**
   * Synchronous answer when the caches can give one (the hot path); otherwise a promise.
   * `addressOf(caller)`: the client's per-address key, read only when a lookup would reach
   * Postgres (it spends that address's budget).
   */
  resolve<C>(
    key: string,
    now: number,
    caller: C,
    addressOf: (caller: C) => string,
  ): KeyVerdict | Promise<KeyVerdict> {
    let hash = this.knownHashes.get(key);
    if (hash === undefined) {
      if (!parseApiKey(key).ok) return MALFORMED;
      hash = hashApiKey(key);
    }
    const entry = this.cache.get(hash);
    if (entry !== undefined && entry.expiresAt > now) {
      this.hits.inc();
      this.remember(key, hash);
      return verdict(entry.value, now);
    }
    if (entry === undefined && this.negative.has(hash, now)) {
      this.negativeHits.inc();
      return UNKNOWN;
    }
    this.misses.inc();
    const stale = entry?.value;
    const pending = this.inflight.get(hash);
    if (pending !== undefined) return this.settle(pending, stale, now);
    // A key with an (expired) entry is a real key being refreshed: no budget.
    let address: string | null = null;
    if (entry === undefined) {
      address = addressOf(caller);
      if (!this.budget.take(address, now)) {
        this.refusedBudget.inc();
        return LOOKUPS_LIMITED;
      }
    }
    const p = this.gate.submit(hash, stale !== undefined);
    if (p === null) {
      this.refusedOverload.inc();
      if (address !== null) this.budget.giveBack(address, now);
      return stale !== undefined ? verdict(stale, now) : LOOKUP_FAILED;
    }
    this.inflight.set(hash, p);
    const generation = this.generation;
    p.then(
      (rec) => this.loaded(hash, p, rec, generation, address),
      () => {
        this.lookupErrors.inc();
        if (this.inflight.get(hash) === p) this.inflight.delete(hash);
      },
    );
    return this.settle(p, stale, now);
  }

  private remember(key: string, hash: string): void {
    const known = this.knownHashes;
    if (known.has(key)) return;
    if (known.size >= this.opts.maxEntries) {
      const oldest = known.keys().next();
      if (oldest.done !== true) known.delete(oldest.value);
    }
    known.set(key, hash);
  }

  private loaded(
    hash: string,
    p: Promise<KeyRecord | null>,
    rec: KeyRecord | null,
    generation: number,
    address: string | null,
  ): void {
    if (this.inflight.get(hash) === p) this.inflight.delete(hash);
    const t = Date.now();
    if (rec === null) this.notFound.inc();
    else {
      this.found.inc();
      if (address !== null) this.budget.giveBack(address, t);
    }
    // A row read before a clear() (a change notification) is not cached: it may be stale.
    if (generation !== this.generation) return;
    if (rec === null) {
      this.cache.delete(hash);
      this.negative.add(hash, t);
    } else {
      this.negative.delete(hash);
      this.cache.set(hash, rec, t + this.opts.ttlMs);
    }
  }

  private async settle(
    p: Promise<KeyRecord | null>,
    stale: KeyRecord | undefined,
    now: number,
  ): Promise<KeyVerdict> {
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
    this.knownHashes.clear();
    this.cache.clear();
    this.negative.clear();
  }
}

function verdict(rec: KeyRecord | null, now: number): KeyVerdict {
  if (rec === null) return UNKNOWN;
  if (rec.revokedAt !== null && rec.revokedAt.getTime() <= now) return REVOKED;
  if (rec.expiresAt !== null && rec.expiresAt.getTime() <= now) return EXPIRED;
  return { ok: true, key: rec };
}
