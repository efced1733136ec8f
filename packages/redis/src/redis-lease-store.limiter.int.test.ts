import { randomUUID } from 'node:crypto';
import { DEFAULT_LEASE_POLICY, LeasingLimiter, quotaPeriodId } from '@tollgate/core';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../../../infra/testing/stack.ts';
import { createRedis, type Redis, waitForRedis } from './client.ts';
import { RedisLeaseStore } from './redis-lease-store.ts';

// LeasingLimiters (core) on RedisLeaseStore against the shared stack's Redis, under its own prefix.
const REDIS_URL = sharedStackEnv().REDIS_URL!;
const prefix = `test:lease-limiter:${randomUUID()}:`;
const clients: Redis[] = [];

async function client(): Promise<Redis> {
  const r = createRedis({ url: REDIS_URL, commandTimeoutMs: 5_000 });
  clients.push(r);
  await waitForRedis(r);
  return r;
}

afterAll(async () => {
  const admin = clients[0];
  if (admin !== undefined) {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
  }
  for (const r of clients) r.disconnect();
});

describe('LeasingLimiter on RedisLeaseStore', () => {
  it('three holders, 3000 concurrent checks on a quota of 1000: exactly 1000 admitted, and closing leaves the counter at 1000', async () => {
    const stores: RedisLeaseStore[] = [];
    const limiters: LeasingLimiter[] = [];
    for (let i = 0; i < 3; i++) {
      const store = new RedisLeaseStore({
        redis: await client(),
        subscriber: await client(),
        keyPrefix: prefix,
        timeoutMs: 5_000,
        policy: DEFAULT_LEASE_POLICY,
      });
      await store.listening();
      stores.push(store);
      limiters.push(
        new LeasingLimiter({ store, holder: `g${i}-${randomUUID()}`, policy: DEFAULT_LEASE_POLICY }),
      );
    }
    const now = Date.now();
    const periodStart = Math.floor(now / 86_400_000) * 86_400_000;
    const quota = { limit: 1_000, periodStart, periodEnd: periodStart + 30 * 86_400_000 };
    const decisions = await Promise.all(
      Array.from({ length: 3_000 }, (_, i) =>
        limiters[i % 3]!.check({ subject: 'consumer', cost: 1, now, quota, rate: null }),
      ),
    );
    const admitted = decisions.filter((d) => d.allowed).length;
    const calls = stores.reduce((n, s) => n + s.calls(), 0);
    for (const l of limiters) await l.close();
    const counter = Number(
      await clients[0]!.get(stores[0]!.quotaKey('consumer', quotaPeriodId(periodStart))),
    );
    console.info(`leasing on Redis: ${admitted} of 3000 admitted, ${calls} store calls before close`);
    expect(admitted).toBe(1_000);
    expect(counter).toBe(1_000);
  });
});
