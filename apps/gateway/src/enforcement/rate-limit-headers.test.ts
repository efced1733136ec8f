import { describe, expect, it } from 'vitest';
import type { CompiledPlan, CompiledSubscription } from '../control-plane/compile-snapshot.ts';
import { basePlan } from '../testing/fixtures.ts';
import { pushRateLimitHeaders, refreshPeriod } from './rate-limit-headers.ts';

function sub(anchor: Date): CompiledSubscription {
  return {
    id: 's',
    planId: 'p',
    status: 'active',
    billingAnchor: anchor,
    graceUntilMs: 0,
    periodStart: 0,
    periodEnd: 0,
    quota: null,
    policyHeader: '',
  };
}

describe('rate-limit headers', () => {
  it('aligns the quota window to the billing anchor (day and month) and formats the IETF fields', () => {
    const dayPlan: CompiledPlan = {
      plan: basePlan({ quota: 500, quotaPeriod: 'day', rateLimitPerSecond: 10, burst: 20 }),
      ceiling: 500,
      apiIds: new Set(),
      routeIds: new Set(),
    };
    const s = sub(new Date('2026-01-15T06:30:00.000Z'));
    const now = Date.parse('2026-03-02T07:00:00.000Z');
    refreshPeriod(s, dayPlan, now);
    expect(new Date(s.periodStart).toISOString()).toBe('2026-03-02T06:30:00.000Z');
    expect(s.quota).toEqual({
      limit: 500,
      periodStart: s.periodStart,
      periodEnd: s.periodStart + 86_400_000,
    });
    expect(s.policyHeader).toBe('"quota";q=500;w=86400, "rate";q=10;w=1');
    const out: string[] = [];
    pushRateLimitHeaders(out, s, dayPlan, {
      allowed: true,
      limitedBy: null,
      quotaRemaining: 499,
      quotaResetMs: s.periodEnd - now,
      rateRemaining: 19,
      retryAfterMs: null,
    });
    expect(out).toEqual([
      'ratelimit-policy',
      '"quota";q=500;w=86400, "rate";q=10;w=1',
      'ratelimit',
      '"quota";r=499;t=84600, "rate";r=19;t=1',
      'x-ratelimit-limit',
      '500',
      'x-ratelimit-remaining',
      '499',
      'x-ratelimit-reset',
      '84600',
    ]);

    const monthPlan: CompiledPlan = {
      plan: basePlan({ quota: 1000 }),
      ceiling: 1000,
      apiIds: new Set(),
      routeIds: new Set(),
    };
    const m = sub(new Date('2026-01-31T00:00:00.000Z'));
    refreshPeriod(m, monthPlan, Date.parse('2026-02-10T00:00:00.000Z'));
    // Anchored on the 31st: February's period starts on Jan 31 and ends on Feb 28 (clamped).
    expect(new Date(m.periodStart).toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(new Date(m.periodEnd).toISOString()).toBe('2026-02-28T00:00:00.000Z');
    expect(m.policyHeader).toBe(`"quota";q=1000;w=${28 * 86400}`);
  });

  it('a slow rate (below 1/s) is expressed as 1 per window', () => {
    const plan: CompiledPlan = {
      plan: basePlan({ quota: null, rateLimitPerSecond: 0.2, burst: 1 }),
      ceiling: null,
      apiIds: new Set(),
      routeIds: new Set(),
    };
    const s = sub(new Date('2026-01-01T00:00:00.000Z'));
    refreshPeriod(s, plan, Date.parse('2026-01-05T00:00:00.000Z'));
    expect(s.policyHeader).toBe('"rate";q=1;w=5');
    expect(s.quota).toBeNull();
  });
});
