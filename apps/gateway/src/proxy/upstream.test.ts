import { afterAll, describe, expect, it } from 'vitest';
import { EgressPolicy } from './egress-policy.ts';
import { TargetRegistry, UpstreamGroup } from './upstream.ts';

const registry = new TargetRegistry({
  connections: 1,
  connectTimeoutMs: 100,
  passiveFailures: 2,
  breakerFailures: 3,
  breakerOpenMs: 1000,
  egress: new EgressPolicy([]),
});
afterAll(() => registry.close());

describe('upstream selection', () => {
  it('round robin follows the weights', () => {
    const a = registry.acquire(new URL('http://127.0.0.1:1'), null);
    const b = registry.acquire(new URL('http://127.0.0.1:2'), null);
    const g = new UpstreamGroup([a, b], false, [3, 1]);
    const counts = new Map([
      [a, 0],
      [b, 0],
    ]);
    for (let i = 0; i < 400; i++) {
      const t = g.pick(0, null)!;
      counts.set(t, counts.get(t)! + 1);
    }
    expect(counts.get(a)).toBe(300);
    expect(counts.get(b)).toBe(100);
  });

  it('passive health takes a target out after N connection failures; the breaker opens, half-opens after the cooldown, and closes on success', () => {
    const a = registry.acquire(new URL('http://127.0.0.1:3'), null);
    const b = registry.acquire(new URL('http://127.0.0.1:4'), null);
    const g = new UpstreamGroup([a, b], false);
    a.onDispatch();
    a.onConnectionFailure(0);
    expect(a.isAvailable(0)).toBe(true);
    a.onDispatch();
    a.onConnectionFailure(0);
    expect(a.isAvailable(0)).toBe(false);
    expect(a.isAvailable(1001)).toBe(true);
    for (let i = 0; i < 10; i++) expect(g.pick(500, null)).toBe(b);

    for (let i = 0; i < 3; i++) {
      b.onDispatch();
      b.onFailure(2000);
    }
    expect(b.breakerOpen).toBe(true);
    expect(b.isAvailable(2500)).toBe(false);
    // Half-open after the cooldown: exactly one probe at a time.
    expect(b.isAvailable(3001)).toBe(true);
    b.onDispatch();
    expect(b.isAvailable(3001)).toBe(false);
    b.onSuccess();
    expect(b.breakerOpen).toBe(false);
    expect(b.isAvailable(3002)).toBe(true);
  });
});
