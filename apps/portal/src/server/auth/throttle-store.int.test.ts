import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThrottlePolicy } from './throttle-policy.ts';
import { type ThrottleKey, ThrottleStore } from './throttle-store.ts';

const POLICY: ThrottlePolicy = { free: 5, baseDelayMs: 60_000, maxDelayMs: 600_000, forgiveMs: 3_600_000 };
const key = (scope: ThrottleKey['scope'], k: string): ThrottleKey => ({ scope, key: k, policy: POLICY });

let db: TestDatabase;
let store: ThrottleStore;

beforeAll(async () => {
  db = await createTestDatabase();
  store = new ThrottleStore(db.prisma);
});

afterAll(async () => {
  await db?.drop();
});

const row = (k: ThrottleKey) =>
  db.prisma.authThrottle.findUnique({ where: { scope_key: { scope: k.scope, key: k.key } } });

describe('throttle store (Postgres)', () => {
  it('parallel attempts on one key from several instances admit exactly the allowance, the rest are told how long to wait', async () => {
    const k = key('sign_in_address', '192.0.2.1');
    const now = Date.now();
    // Four stores stand for four portal instances: each runs its own transactions one at a
    // time, so only Postgres's row lock keeps them from sharing the allowance.
    const instances = [store, ...Array.from({ length: 3 }, () => new ThrottleStore(db.prisma))];
    const verdicts = await Promise.all(
      Array.from({ length: 20 }, (_, i) => instances[i % instances.length]!.admit([k], now)),
    );
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(5);
    for (const v of verdicts)
      if (!v.allowed) expect(v).toEqual({ allowed: false, scope: k.scope, retryAfterMs: 60_000 });
    expect((await row(k))?.attempts).toBe(5);
  });

  it('an attempt is admitted on all of its keys or on none', async () => {
    const blocked = key('sign_in_address', '192.0.2.2');
    const fresh = key('sign_in_account', '192.0.2.2 a@example.test');
    const now = Date.now();
    for (let i = 0; i < 5; i++) expect((await store.admit([blocked], now)).allowed).toBe(true);
    expect(await store.admit([fresh, blocked], now + 1000)).toEqual({
      allowed: false,
      scope: 'sign_in_address',
      retryAfterMs: 59_000,
    });
    expect((await row(fresh))?.attempts).toBe(0);
    expect((await store.admit([fresh, blocked], now + 60_000)).allowed).toBe(true);
    expect((await row(fresh))?.attempts).toBe(1);
  });

  it('a refund takes the attempt and its wait back; clearing forgets the key', async () => {
    const k = key('sign_up_address', '192.0.2.3');
    const now = Date.now();
    for (let i = 0; i < 5; i++) await store.admit([k], now);
    expect((await row(k))?.blockedUntil.getTime()).toBe(now + 60_000);
    await store.refund([k]);
    expect(await row(k)).toMatchObject({ attempts: 4, blockedUntil: new Date(now) });
    expect((await store.admit([k], now)).allowed).toBe(true);
    await store.clear(k);
    expect(await row(k)).toBeNull();
  });

  it('housekeeping deletes only rows that count nothing any more, in the given scope', async () => {
    const now = Date.now();
    const spent = key('sign_in_account', '192.0.2.4 spent@example.test');
    const counting = key('sign_in_account', '192.0.2.4 counting@example.test');
    const otherScope = key('sign_up_address', '192.0.2.4');
    // two attempts 3 h ago: forgiven after 2 h
    await store.admit([spent], now - 3 * 3_600_000);
    await store.admit([spent], now - 3 * 3_600_000);
    // four attempts 3 h ago: one still counts
    for (let i = 0; i < 4; i++) await store.admit([counting], now - 3 * 3_600_000);
    await store.admit([otherScope], now - 3 * 3_600_000);
    expect(await store.deleteSpent(spent, now)).toBe(1);
    expect(await row(spent)).toBeNull();
    expect(await row(counting)).not.toBeNull();
    expect(await row(otherScope)).not.toBeNull();
  });

  it('a refusal is repeated from memory until it ends, without asking Postgres', async () => {
    const k = key('sign_up_address', '192.0.2.5');
    const now = Date.now();
    for (let i = 0; i < 5; i++) await store.admit([k], now);
    expect(await store.admit([k], now + 1)).toMatchObject({ allowed: false, retryAfterMs: 59_999 });
    // behind the store's back: the row is gone, yet this process keeps refusing until the wait ends
    await db.prisma.authThrottle.deleteMany({ where: { scope: k.scope, key: k.key } });
    expect(await store.admit([k], now + 30_000)).toMatchObject({ allowed: false, retryAfterMs: 30_000 });
    expect(await row(k)).toBeNull();
    expect((await new ThrottleStore(db.prisma).admit([k], now + 30_000)).allowed).toBe(true);
    expect((await store.admit([k], now + 60_000)).allowed).toBe(true);
  });
});
