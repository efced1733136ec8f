import { describe, expect, it } from 'vitest';
import { backoffMs, KeyedSerializer, sleep, TokenBucket } from './rate-limiter.ts';

describe('meter event pacing', () => {
  it('the token bucket never starts more than burst + rate × elapsed calls', async () => {
    const bucket = new TokenBucket(200, 5);
    const started: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 45 }, () => bucket.acquire().then(() => started.push(performance.now() - t0))),
    );
    const elapsed = Math.max(...started);
    // 45 calls at 200/s with a burst of 5 need at least 200 ms
    expect(elapsed).toBeGreaterThanOrEqual(190);
    for (const [i, at] of started.sort((a, b) => a - b).entries())
      expect(i + 1).toBeLessThanOrEqual(5 + Math.ceil((at / 1000) * 200) + 1);
  });

  it('backoff grows exponentially, is capped and jittered', () => {
    expect(backoffMs(0, 100, 30_000, () => 0.999)).toBeLessThan(100);
    expect(backoffMs(3, 100, 30_000, () => 0.999)).toBeLessThan(800);
    expect(backoffMs(3, 100, 30_000, () => 0.999)).toBeGreaterThanOrEqual(790);
    expect(backoffMs(30, 100, 30_000, () => 0.999)).toBeLessThan(30_000);
    expect(backoffMs(5, 100, 30_000, () => 0)).toBe(0);
  });

  it('runs at most one task at a time per key, and keys in parallel', async () => {
    const serializer = new KeyedSerializer();
    const running = new Map<string, number>();
    let maxPerKey = 0;
    let maxTotal = 0;
    const task = (key: string) => async () => {
      running.set(key, (running.get(key) ?? 0) + 1);
      maxPerKey = Math.max(maxPerKey, running.get(key)!);
      maxTotal = Math.max(
        maxTotal,
        [...running.values()].reduce((a, b) => a + b, 0),
      );
      await sleep(5);
      running.set(key, running.get(key)! - 1);
    };
    await Promise.all(['a', 'b', 'a', 'b', 'a', 'c'].map((k) => serializer.run(k, task(k))));
    expect(maxPerKey).toBe(1);
    expect(maxTotal).toBeGreaterThan(1);
  });

  it('a failing task does not block the next one for the same key', async () => {
    const serializer = new KeyedSerializer();
    await expect(serializer.run('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(serializer.run('k', async () => 7)).resolves.toBe(7);
  });
});
