import { generateApiKey } from '@tollgate/core';
import { describe, expect, it } from 'vitest';
import type { KeyRecord } from '../control-plane/types.ts';
import { createMetrics } from '../metrics.ts';
import { ApiKeyResolver, type ApiKeyResolverOptions, type KeyVerdict } from './resolve-api-key.ts';

/** An in-memory key store whose lookups can be held open (a slow Postgres). */
function store() {
  const keys = new Map<string, KeyRecord>();
  const held: (() => void)[] = [];
  const s = {
    lookups: 0,
    running: 0,
    peak: 0,
    hold: false,
    fail: false,
    keys,
    release() {
      for (const r of held.splice(0)) r();
    },
    lookup: async (hash: string): Promise<KeyRecord | null> => {
      s.lookups++;
      s.running++;
      s.peak = Math.max(s.peak, s.running);
      try {
        if (s.hold) await new Promise<void>((r) => held.push(r));
        else await Promise.resolve();
        if (s.fail) throw new Error('postgres down');
        return keys.get(hash) ?? null;
      } finally {
        s.running--;
      }
    },
    add(): string {
      const k = generateApiKey('live');
      keys.set(k.hash, { id: `id-${keys.size}`, consumerId: 'c', expiresAt: null, revokedAt: null });
      return k.key;
    },
  };
  return s;
}

function resolver(s: ReturnType<typeof store>, opts: Partial<ApiKeyResolverOptions> = {}) {
  const metrics = createMetrics();
  const r = new ApiKeyResolver(
    s.lookup,
    {
      ttlMs: 5000,
      negativeTtlMs: 2000,
      maxEntries: 10,
      negativeMaxEntries: 100,
      budget: { perSecond: 1, burst: 5, maxAddresses: 100 },
      gate: { concurrency: 2, queue: 3 },
      ...opts,
    },
    metrics,
  );
  return { r, metrics };
}

/** The caller is its address here. */
const addressOf = (address: string) => address;
const code = (v: KeyVerdict) => (v.ok ? 'OK' : v.code);
const fake = () => generateApiKey('live').key;

describe('API key resolver: remembered hashes', () => {
  it('only real keys are remembered, bounded by maxEntries; a revoked key is refused though its hash is remembered; clear() forgets', async () => {
    const s = store();
    const { r } = resolver(s, { budget: { perSecond: 1000, burst: 100_000, maxAddresses: 10 } });
    for (let i = 0; i < 50; i++) await r.resolve(fake(), 1000, 'a', addressOf);
    expect(r.rememberedKeys).toBe(0);
    const reals = Array.from({ length: 15 }, () => s.add());
    for (const k of reals) {
      expect(code(await r.resolve(k, 1000, 'a', addressOf))).toBe('OK');
      expect(code(r.resolve(k, 1000, 'a', addressOf) as KeyVerdict)).toBe('OK');
    }
    expect(r.rememberedKeys).toBe(10);
    // A key one character off is not a remembered key: checksum first, as ever.
    const last = reals.at(-1)!;
    const typo = `${last.slice(0, -1)}${last.at(-1) === 'a' ? 'b' : 'a'}`;
    expect(code(r.resolve(typo, 1000, 'a', addressOf) as KeyVerdict)).toBe('KEY_MALFORMED');
    // Revocation reaches the remembered key through a fresh row (a notification clears the cache).
    for (const rec of s.keys.values()) rec.revokedAt = new Date(500);
    r.clear();
    expect(r.rememberedKeys).toBe(0);
    expect(code(await r.resolve(last, 1000, 'a', addressOf))).toBe('KEY_REVOKED');
  });
});

describe('API key resolver under fake-key floods', () => {
  it('fake keys cannot push a real key out of the cache (the negative cache is bounded apart)', async () => {
    const s = store();
    const { r } = resolver(s, { budget: { perSecond: 1000, burst: 100_000, maxAddresses: 10 } });
    const real = s.add();
    expect(code(await r.resolve(real, 1000, 'a', addressOf))).toBe('OK');
    for (let i = 0; i < 1000; i++)
      expect(code(await r.resolve(fake(), 1000, 'a', addressOf))).toBe('KEY_UNKNOWN');
    const before = s.lookups;
    const v = r.resolve(real, 1000, 'a', addressOf);
    expect(v instanceof Promise).toBe(false);
    expect(code(v as KeyVerdict)).toBe('OK');
    expect(s.lookups).toBe(before);
  });

  it('a repeated unknown key is answered from the negative cache, without a lookup or budget', async () => {
    const s = store();
    const { r } = resolver(s);
    const k = fake();
    expect(code(await r.resolve(k, 0, 'a', addressOf))).toBe('KEY_UNKNOWN');
    for (let i = 0; i < 50; i++)
      expect(code(r.resolve(k, 10, 'a', addressOf) as KeyVerdict)).toBe('KEY_UNKNOWN');
    expect(s.lookups).toBe(1);
  });

  it('one address gets `burst` unknown-key lookups, then KEY_LOOKUPS_LIMITED without Postgres; other addresses and real keys are not charged', async () => {
    const s = store();
    const { r, metrics } = resolver(s);
    const verdicts: string[] = [];
    for (let i = 0; i < 100; i++) verdicts.push(code(await r.resolve(fake(), 0, 'attacker', addressOf)));
    expect(verdicts.filter((v) => v === 'KEY_UNKNOWN').length).toBe(5);
    expect(verdicts.filter((v) => v === 'KEY_LOOKUPS_LIMITED').length).toBe(95);
    expect(s.lookups).toBe(5);
    expect(
      (await metrics.keyLookupsRefused.get()).values.find((v) => v.labels.reason === 'budget')?.value,
    ).toBe(95);
    // Another address has its own budget; real keys give their token back.
    const reals = Array.from({ length: 20 }, () => s.add());
    for (const k of reals) expect(code(await r.resolve(k, 0, 'office', addressOf))).toBe('OK');
    expect(code(await r.resolve(fake(), 0, 'office', addressOf))).toBe('KEY_UNKNOWN');
    // The attacker's budget refills at 1/s.
    expect(code(await r.resolve(fake(), 999, 'attacker', addressOf))).toBe('KEY_LOOKUPS_LIMITED');
    expect(code(await r.resolve(fake(), 1000, 'attacker', addressOf))).toBe('KEY_UNKNOWN');
    expect(r.budgetRetryAfterS).toBe(1);
  });

  it('concurrent misses of one key share one lookup', async () => {
    const s = store();
    const { r } = resolver(s);
    const real = s.add();
    s.hold = true;
    const all = Array.from({ length: 50 }, () => r.resolve(real, 0, 'a', addressOf));
    s.release();
    await new Promise((res) => setImmediate(res));
    s.release();
    expect((await Promise.all(all)).map(code)).toEqual(Array(50).fill('OK'));
    expect(s.lookups).toBe(1);
  });

  it('at most `concurrency` lookups run and `queue` wait; past that an unknown key gets KEY_LOOKUP_FAILED and a known key its stale entry, without a query', async () => {
    const s = store();
    const { r, metrics } = resolver(s, { budget: { perSecond: 1000, burst: 1000, maxAddresses: 10 } });
    const base = Date.now();
    const known = Array.from({ length: 4 }, () => s.add());
    for (const k of known) expect(code(await r.resolve(k, base, 'a', addressOf))).toBe('OK');
    s.hold = true;
    const unknown = Array.from({ length: 20 }, () => r.resolve(fake(), base, 'a', addressOf));
    // 2 running + 3 queued; the other 15 are answered at once, without a query.
    const immediate = unknown.filter((p) => !(p instanceof Promise)).map((v) => code(v as KeyVerdict));
    expect(immediate).toEqual(Array(15).fill('KEY_LOOKUP_FAILED'));
    expect(s.lookups - known.length).toBe(2);
    // Past their TTL the known keys need a refresh: a lane of its own (3 wait), the 4th is
    // served from its stale entry.
    const later = base + 6_000;
    const refreshes = known.map((k) => r.resolve(k, later, 'a', addressOf));
    expect(refreshes.map((v) => v instanceof Promise)).toEqual([true, true, true, false]);
    expect(code(refreshes[3] as KeyVerdict)).toBe('OK');
    // Slots free up: refreshes go first, everything accepted settles, never more than 2 at once.
    const order: string[] = [];
    const settled = Promise.all([
      ...refreshes.slice(0, 3).map((p) => Promise.resolve(p).then((v) => order.push(`refresh:${code(v)}`))),
      ...unknown
        .filter((p) => p instanceof Promise)
        .map((p) => p.then((v) => order.push(`unknown:${code(v)}`))),
    ]);
    for (let i = 0; i < 20 && order.length < 8; i++) {
      s.release();
      await new Promise((res) => setImmediate(res));
    }
    await settled;
    expect(s.peak).toBe(2);
    expect(order).toEqual([
      'unknown:KEY_UNKNOWN',
      'unknown:KEY_UNKNOWN',
      'refresh:OK',
      'refresh:OK',
      'refresh:OK',
      'unknown:KEY_UNKNOWN',
      'unknown:KEY_UNKNOWN',
      'unknown:KEY_UNKNOWN',
    ]);
    expect(s.lookups - known.length).toBe(2 + 3 + 3);
    const overload = (await metrics.keyLookupsRefused.get()).values.find(
      (v) => v.labels.reason === 'overload',
    );
    expect(overload?.value).toBe(16);
  });

  it('while Postgres fails, a known key is served from its stale entry and an unknown one gets KEY_LOOKUP_FAILED', async () => {
    const s = store();
    const { r, metrics } = resolver(s);
    const known = s.add();
    const base = Date.now();
    expect(code(await r.resolve(known, base, 'a', addressOf))).toBe('OK');
    s.fail = true;
    expect(code(await r.resolve(known, base + 10_000, 'a', addressOf))).toBe('OK');
    expect(code(await r.resolve(fake(), base + 10_000, 'a', addressOf))).toBe('KEY_LOOKUP_FAILED');
    expect((await metrics.keyLookups.get()).values.find((v) => v.labels.result === 'error')?.value).toBe(2);
  });
});
