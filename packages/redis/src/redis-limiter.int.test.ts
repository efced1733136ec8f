import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { type LimitDecision, type LimitRequest, MemoryLimiter } from '@tollgate/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../../../infra/testing/stack.ts';
import { createRedis, type Redis, waitForRedis } from './client.ts';
import { limiterClientTimeoutMs, RedisLimiter } from './redis-limiter.ts';

// Real Redis from the shared stack; every test writes under its own key prefix.
const REDIS_URL = sharedStackEnv().REDIS_URL!;
const prefix = `test:rl:${randomUUID()}:`;
const clients: Redis[] = [];

function client(commandTimeoutMs = 2000): Redis {
  const r = createRedis({ url: REDIS_URL, commandTimeoutMs });
  clients.push(r);
  return r;
}

beforeAll(async () => {
  const c = client();
  await waitForRedis(c);
});

afterAll(async () => {
  const c = clients[0]!;
  const keys = await c.keys(`${prefix}*`);
  for (let i = 0; i < keys.length; i += 500) await c.del(...keys.slice(i, i + 500));
  for (const r of clients) r.disconnect();
});

async function redisNowMs(r: Redis): Promise<number> {
  const [s, us] = await r.time();
  return Number(s) * 1000 + Number(us) / 1000;
}

describe('redis limiter: same semantics as MemoryLimiter', () => {
  it('decides every generated sequence exactly as the in-memory model (quota, rate, cost, refunds)', async () => {
    const redis = clients[0]!;
    const limiter = new RedisLimiter({ redis, keyPrefix: `${prefix}model:`, timeoutMs: 2000 });
    const base = Date.now();
    let run = 0;
    const stepArb = fc.record({
      cost: fc.integer({ min: 0, max: 6 }),
      dtMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 5000 })),
      refund: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.integer({ min: 0, max: 60 }), { nil: null }),
        fc.option(
          fc.record({
            perSecond: fc.oneof(
              fc.integer({ min: 1, max: 50 }),
              fc.double({ min: 0.5, max: 40, noNaN: true }),
            ),
            burst: fc.integer({ min: 1, max: 20 }),
          }),
          { nil: null },
        ),
        fc.integer({ min: 1_000, max: 20_000 }),
        fc.array(stepArb, { minLength: 1, maxLength: 40 }),
        async (quotaLimit, rate, periodMs, steps) => {
          run += 1;
          const subject = `s${run}`;
          const model = new MemoryLimiter();
          let now = base;
          for (const step of steps) {
            now += step.dtMs;
            const periodStart = base + Math.floor((now - base) / periodMs) * periodMs;
            const req: LimitRequest = {
              subject,
              cost: step.cost,
              now,
              quota:
                quotaLimit === null
                  ? null
                  : { limit: quotaLimit, periodStart, periodEnd: periodStart + periodMs },
              rate,
            };
            const expected = model.checkSync(req);
            const actual = await limiter.check(req, { rateNowMs: now });
            expect(actual).toEqual(expected);
            if (actual.allowed && step.refund) {
              await model.refund(req);
              await limiter.refund(req);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('redis limiter: checks of one event-loop turn are decided as one batch', () => {
  it('a batch over several subjects decides each check exactly as the model does in the same order', async () => {
    const redis = clients[0]!;
    const calls: number[] = [];
    // Count the script calls that reach Redis (MONITOR would need another connection and races).
    const limiter = new RedisLimiter({ redis, keyPrefix: `${prefix}batch:`, timeoutMs: 2000, maxBatch: 16 });
    const send = (limiter as unknown as { send(b: unknown[]): void }).send.bind(limiter);
    (limiter as unknown as { send(b: unknown[]): void }).send = (b: unknown[]) => {
      calls.push(b.length);
      send(b);
    };
    const base = Date.now();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            subject: fc.constantFrom('a', 'b', 'c'),
            cost: fc.integer({ min: 0, max: 4 }),
            dtMs: fc.integer({ min: 0, max: 300 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        fc.integer({ min: 0, max: 30 }),
        fc.record({ perSecond: fc.integer({ min: 1, max: 20 }), burst: fc.integer({ min: 1, max: 10 }) }),
        async (checks, quotaLimit, rate) => {
          run += 1;
          calls.length = 0;
          const model = new MemoryLimiter();
          let now = base;
          const reqs = checks.map((c) => {
            now += c.dtMs;
            return {
              subject: `r${run}${c.subject}`,
              cost: c.cost,
              now,
              quota: { limit: quotaLimit, periodStart: base, periodEnd: base + 3_600_000 },
              rate,
            } satisfies LimitRequest;
          });
          const expected = reqs.map((r) => model.checkSync(r));
          // All issued in the same turn: they are queued and sent together.
          const actual = await Promise.all(reqs.map((r) => limiter.check(r, { rateNowMs: r.now })));
          expect(actual).toEqual(expected);
          expect(calls).toEqual(
            Array.from({ length: Math.ceil(reqs.length / 16) }, (_, i) => Math.min(16, reqs.length - i * 16)),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a failed batch rejects every check in it, and the next turn works again', async () => {
    const redis = client();
    await waitForRedis(redis);
    const limiter = new RedisLimiter({ redis, keyPrefix: `${prefix}batchfail:`, timeoutMs: 200 });
    const req = (subject: string): LimitRequest => ({
      subject,
      cost: 1,
      now: Date.now(),
      quota: null,
      rate: { perSecond: 100, burst: 100 },
    });
    redis.disconnect();
    const failed = await Promise.allSettled([limiter.check(req('x')), limiter.check(req('y'))]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    while (redis.status !== 'end') await new Promise((r) => setTimeout(r, 5));
    await redis.connect();
    await waitForRedis(redis);
    const ok = await Promise.all([limiter.check(req('x')), limiter.check(req('y'))]);
    expect(ok.map((d) => d.allowed)).toEqual([true, true]);
  });
});

describe("redis limiter: the deadline is measured from the send, not from the caller's loop", () => {
  it('the loop blocked 4× the timeout right after the send: the reply that came meanwhile decides every check', async () => {
    const timeoutMs = 50;
    const redis = client(limiterClientTimeoutMs(timeoutMs));
    await waitForRedis(redis);
    const limiter = new RedisLimiter({ redis, keyPrefix: `${prefix}stall:`, timeoutMs });
    const req = (subject: string): LimitRequest => ({
      subject,
      cost: 1,
      now: Date.now(),
      quota: null,
      rate: { perSecond: 1000, burst: 1000 },
    });
    await limiter.check(req('warm')); // script loaded: one round trip per batch from here
    for (let round = 0; round < 5; round++) {
      const checks = Array.from({ length: 10 }, (_, i) => limiter.check(req(`s${i}`)));
      // Queued after the limiter's flush: the script call is on the wire while the loop is blocked.
      let blockedMs = 0;
      setImmediate(() => {
        const t0 = performance.now();
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4 * timeoutMs);
        blockedMs = performance.now() - t0;
      });
      const settled = await Promise.allSettled(checks);
      expect(blockedMs).toBeGreaterThanOrEqual(4 * timeoutMs - 1);
      expect(settled.map((r) => r.status)).toEqual(Array(10).fill('fulfilled'));
    }
  });
});

describe('redis limiter: a refused request consumes nothing', () => {
  it('a request refused by the rate leaves the quota untouched', async () => {
    const redis = clients[0]!;
    const limiter = new RedisLimiter({ redis, keyPrefix: `${prefix}refuse1:`, timeoutMs: 2000 });
    const now = Date.now();
    const quota = { limit: 100, periodStart: now, periodEnd: now + 60_000 };
    const req = { subject: 'c1', cost: 1, now, quota, rate: { perSecond: 0.001, burst: 2 } };
    expect((await limiter.check(req)).quotaRemaining).toBe(99);
    expect((await limiter.check(req)).quotaRemaining).toBe(98);
    for (let i = 0; i < 20; i++) {
      const d = await limiter.check(req);
      expect(d.allowed).toBe(false);
      expect(d.limitedBy).toBe('rate');
      expect(d.quotaRemaining).toBe(98);
      expect(d.retryAfterMs).toBeGreaterThan(0);
    }
    expect(await redis.get(limiter.quotaKey('c1', now))).toBe('2');
    // Another subject's view without a rate: the counter is still exactly 2 used.
    const d = await limiter.check({ ...req, rate: null });
    expect(d).toMatchObject({ allowed: true, quotaRemaining: 97 });
  });

  it('a request refused by the quota leaves the tokens untouched', async () => {
    const redis = clients[0]!;
    const limiter = new RedisLimiter({ redis, keyPrefix: `${prefix}refuse2:`, timeoutMs: 2000 });
    const now = Date.now();
    const quota = { limit: 3, periodStart: now, periodEnd: now + 60_000 };
    const rate = { perSecond: 0.001, burst: 10 };
    for (let i = 0; i < 3; i++)
      expect((await limiter.check({ subject: 'c2', cost: 1, now, quota, rate })).allowed).toBe(true);
    const before = await redis.hget(limiter.bucketKey('c2'), 't');
    for (let i = 0; i < 50; i++) {
      const d = await limiter.check({ subject: 'c2', cost: 1, now, quota, rate });
      expect(d).toMatchObject({ allowed: false, limitedBy: 'quota', quotaRemaining: 0 });
    }
    expect(await redis.hget(limiter.bucketKey('c2'), 't')).toBe(before);
    expect(Number(before)).toBeGreaterThanOrEqual(6.99);
    // The tokens are all still there: a subject without a quota can spend them.
    const d = await limiter.check({ subject: 'c2', cost: 6, now, quota: null, rate });
    expect(d.allowed).toBe(true);
  });

  it('refund gives units back in one call and never goes below zero', async () => {
    const redis = clients[0]!;
    const limiter = new RedisLimiter({ redis, keyPrefix: `${prefix}refund:`, timeoutMs: 2000 });
    const now = Date.now();
    const quota = { limit: 10, periodStart: now, periodEnd: now + 60_000 };
    await limiter.check({ subject: 'c3', cost: 4, now, quota, rate: null });
    await limiter.refund({ subject: 'c3', cost: 3, quota });
    expect(await redis.get(limiter.quotaKey('c3', now))).toBe('1');
    await limiter.refund({ subject: 'c3', cost: 5, quota });
    expect(await redis.get(limiter.quotaKey('c3', now))).toBe('0');
    const ttl = await redis.pttl(limiter.quotaKey('c3', now));
    expect(ttl).toBeGreaterThan(60_000);
    // Refunding a period that was never counted creates nothing.
    await limiter.refund({ subject: 'never', cost: 5, quota });
    expect(await redis.exists(limiter.quotaKey('never', now))).toBe(0);
  });
});

describe('redis limiter: quota exactness under concurrency', () => {
  it('3000 concurrent checks from 3 connections on a quota of 1000 admit exactly 1000; remaining never goes up', async () => {
    const keyPrefix = `${prefix}exact:`;
    const conns = [client(), client(), client()];
    await Promise.all(conns.map((c) => waitForRedis(c)));
    const limiters = conns.map((redis) => new RedisLimiter({ redis, keyPrefix, timeoutMs: 5000 }));
    const now = Date.now();
    const quota = { limit: 1000, periodStart: now, periodEnd: now + 3_600_000 };
    const perConn: LimitDecision[][] = [[], [], []];
    await Promise.all(
      Array.from({ length: 3000 }, (_, i) => {
        const c = i % 3;
        return limiters[c]!.check({ subject: 'hot', cost: 1, now, quota, rate: null }).then((d) => {
          perConn[c]!.push(d);
        });
      }),
    );
    const all = perConn.flat();
    const admitted = all.filter((d) => d.allowed);
    expect(all).toHaveLength(3000);
    expect(admitted).toHaveLength(1000);
    // Each remaining value 999..0 handed out exactly once: the counter was consumed serially.
    expect(new Set(admitted.map((d) => d.quotaRemaining)).size).toBe(1000);
    expect(Math.min(...admitted.map((d) => d.quotaRemaining!))).toBe(0);
    for (const seq of perConn) {
      for (let i = 1; i < seq.length; i++) {
        expect(seq[i]!.quotaRemaining!).toBeLessThanOrEqual(seq[i - 1]!.quotaRemaining!);
      }
    }
    for (const d of all.filter((x) => !x.allowed))
      expect(d).toMatchObject({ limitedBy: 'quota', quotaRemaining: 0 });
    expect(await conns[0]!.get(limiters[0]!.quotaKey('hot', now))).toBe('1000');
  });

  it('3 child processes, 1000 concurrent checks each, on a quota of 1000 admit exactly 1000', async () => {
    const keyPrefix = `${prefix}exact-procs:`;
    const now = Date.now();
    const worker = join(import.meta.dirname, 'testing', 'quota-worker.ts');
    const runOne = () =>
      new Promise<{ admitted: number; remaining: number[] }>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', worker, REDIS_URL, keyPrefix, 'hot', String(now), '1000', '1000'],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        child.once('error', reject);
        child.once('exit', (code) => {
          if (code !== 0) reject(new Error(`worker exited ${code}`));
          else resolve(JSON.parse(out) as { admitted: number; remaining: number[] });
        });
      });
    const results = await Promise.all([runOne(), runOne(), runOne()]);
    const total = results.reduce((n, r) => n + r.admitted, 0);
    expect(total).toBe(1000);
    const remaining = results.flatMap((r) => r.remaining);
    expect(new Set(remaining).size).toBe(1000);
    for (const r of results) {
      for (let i = 1; i < r.remaining.length; i++) expect(r.remaining[i]!).toBeLessThan(r.remaining[i - 1]!);
    }
  });
});

describe('redis limiter: rate', () => {
  it('after the burst, the admitted rate is within 5% of the configured rate (Redis clock)', async () => {
    const redis = client();
    await waitForRedis(redis);
    const limiter = new RedisLimiter({ redis, keyPrefix: `${prefix}rate:`, timeoutMs: 2000 });
    // A burst of 0.5 s of tokens: an event-loop stall of the load generator shorter than that (on
    // this shared machine) loses no tokens, so the measurement is the limiter's, not the load's.
    const rate = { perSecond: 300, burst: 150 };
    const durationMs = 4000;
    let admitted = 0;
    let offered = 0;
    const t0 = await redisNowMs(redis);
    const wallEnd = Date.now() + durationMs;
    // Steady offered load of about 4x the rate: 4 workers, each one check per ms.
    const worker = async () => {
      while (Date.now() < wallEnd) {
        const d = await limiter.check({ subject: 'r', cost: 1, now: Date.now(), quota: null, rate });
        offered += 1;
        if (d.allowed) admitted += 1;
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const t1 = await redisNowMs(redis);
    const seconds = (t1 - t0) / 1000;
    const measured = (admitted - rate.burst) / seconds;
    console.info(
      `rate test: offered ${offered} in ${seconds.toFixed(3)} s, admitted ${admitted}, after burst ${measured.toFixed(1)}/s (configured ${rate.perSecond}/s)`,
    );
    expect(offered / seconds).toBeGreaterThan(rate.perSecond * 1.5);
    expect(Math.abs(measured - rate.perSecond) / rate.perSecond).toBeLessThanOrEqual(0.05);
  });
});

describe('redis limiter: the quota belongs to the subject, the bucket to the rate subject', () => {
  it('two keys of one consumer share one quota counter and each has its own token bucket, as in the model', async () => {
    const redis = clients[0]!;
    const limiter = new RedisLimiter({ redis, keyPrefix: `${prefix}scope:`, timeoutMs: 2000 });
    const model = new MemoryLimiter();
    const now = Date.now();
    const quota = { limit: 5, periodStart: now, periodEnd: now + 60_000 };
    const rate = { perSecond: 0.001, burst: 2 };
    const steps = ['k:1', 'k:1', 'k:1', 'k:2', 'k:2', 'k:2', 'k:3', 'k:3'];
    const seen: string[] = [];
    for (const rateSubject of steps) {
      const req: LimitRequest = { subject: 'c:one', rateSubject, cost: 1, now, quota, rate };
      const d = await limiter.check(req, { rateNowMs: now });
      expect(d).toEqual(model.checkSync(req));
      seen.push(d.allowed ? 'ok' : String(d.limitedBy));
    }
    // each key's bucket of 2 runs dry on its own; the five units are one counter for all keys
    expect(seen).toEqual(['ok', 'ok', 'rate', 'ok', 'ok', 'rate', 'ok', 'quota']);
    expect(await redis.get(limiter.quotaKey('c:one', now))).toBe('5');
    expect(await redis.exists(limiter.quotaKey('k:1', now))).toBe(0);
    expect(await redis.exists(limiter.bucketKey('c:one'))).toBe(0);
    expect(await redis.exists(limiter.bucketKey('k:3'))).toBe(1);
  });
});

describe('redis limiter: one counter per quota period', () => {
  it('an anchor that moves within its day (our first anchor, then Stripe whole-second one) keeps the counter; the next period starts fresh', async () => {
    const redis = clients[0]!;
    const limiter = new RedisLimiter({ redis, keyPrefix: `${prefix}anchor:`, timeoutMs: 2000 });
    const now = Date.now();
    const month = 30 * 86_400_000;
    const ours = { limit: 10, periodStart: now - 5_000, periodEnd: now - 5_000 + month };
    // Stripe's billing_cycle_anchor: whole seconds, a moment before billing saw the checkout.
    const stripes = { ...ours, periodStart: Math.floor((now - 7_000) / 1000) * 1000 };
    const req = { subject: 'c:anchored', cost: 3, now, rate: null };
    expect((await limiter.check({ ...req, quota: ours })).quotaRemaining).toBe(7);
    expect((await limiter.check({ ...req, quota: stripes })).quotaRemaining).toBe(4);
    await limiter.refund({ ...req, quota: stripes });
    expect((await limiter.check({ ...req, cost: 0, quota: ours })).quotaRemaining).toBe(7);
    const next = { ...ours, periodStart: ours.periodEnd, periodEnd: ours.periodEnd + month };
    expect((await limiter.check({ ...req, now: next.periodStart, quota: next })).quotaRemaining).toBe(7);
  });
});
