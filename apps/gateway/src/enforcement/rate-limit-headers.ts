import type { LimitDecision } from '@tollgate/core';
import { periodContaining } from '@tollgate/core';
import type { CompiledPlan, CompiledSubscription } from '../control-plane/compile-snapshot.ts';

/**
 * Rate-limit headers: the IETF httpapi draft (draft-ietf-httpapi-ratelimit-headers, structured
 * fields) and the de-facto X-RateLimit-* trio.
 *
 *   RateLimit-Policy: "quota";q=1000;w=2592000, "rate";q=10;w=1
 *   RateLimit: "quota";r=990;t=86400, "rate";r=9;t=1
 *   X-RateLimit-Limit: 1000   X-RateLimit-Remaining: 990   X-RateLimit-Reset: 86400 (delta seconds)
 *
 * `q` of the quota is the plan's included quota (a soft cap admits billed overage past it up to
 * the ceiling; `r` stays 0 during overage); `w` is the length of the current billing period in
 * seconds; `t` seconds until the period ends. The rate policy expresses the token bucket as
 * `q` tokens per `w` seconds; its `t` is the time for one token to come back.
 */

/** Brings the subscription's cached quota period up to date for `now`; returns it. */
export function refreshPeriod(sub: CompiledSubscription, plan: CompiledPlan, now: number): void {
  if (now >= sub.periodStart && now < sub.periodEnd && sub.policyHeader !== '') return;
  const p = plan.plan;
  const period = periodContaining(sub.billingAnchor, p.quotaPeriod, new Date(now));
  sub.periodStart = period.start.getTime();
  sub.periodEnd = period.end.getTime();
  sub.quota =
    plan.ceiling === null
      ? null
      : { limit: plan.ceiling, periodStart: sub.periodStart, periodEnd: sub.periodEnd };
  const parts: string[] = [];
  if (p.quota !== null) {
    parts.push(`"quota";q=${p.quota};w=${Math.round((sub.periodEnd - sub.periodStart) / 1000)}`);
  }
  if (p.rateLimitPerSecond !== null) {
    const [q, w] = rateWindow(p.rateLimitPerSecond);
    parts.push(`"rate";q=${q};w=${w}`);
  }
  sub.policyHeader = parts.join(', ');
}

function rateWindow(perSecond: number): [number, number] {
  if (perSecond >= 1) return [Math.floor(perSecond), 1];
  return [1, Math.ceil(1 / perSecond)];
}

/** Appends the rate-limit headers (name, value pairs) for a decision to `out`. */
export function pushRateLimitHeaders(
  out: string[],
  sub: CompiledSubscription,
  plan: CompiledPlan,
  d: LimitDecision,
): void {
  if (sub.policyHeader === '') return;
  const p = plan.plan;
  let value = '';
  let limit = 0;
  let remaining = 0;
  let reset = 0;
  if (p.quota !== null && d.quotaRemaining !== null) {
    // quotaRemaining counts down from the ceiling; report against the included quota.
    const used = (plan.ceiling ?? p.quota) - d.quotaRemaining;
    remaining = Math.max(0, p.quota - used);
    reset = Math.max(0, Math.ceil((d.quotaResetMs ?? 0) / 1000));
    limit = p.quota;
    value = `"quota";r=${remaining};t=${reset}`;
  }
  if (p.rateLimitPerSecond !== null && d.rateRemaining !== null) {
    const t = Math.ceil(1 / p.rateLimitPerSecond);
    const r = Math.max(0, d.rateRemaining);
    value = value === '' ? `"rate";r=${r};t=${t}` : `${value}, "rate";r=${r};t=${t}`;
    if (p.quota === null) {
      limit = p.burst ?? 0;
      remaining = r;
      reset = t;
    }
  }
  out.push('ratelimit-policy', sub.policyHeader);
  if (value !== '') {
    out.push(
      'ratelimit',
      value,
      'x-ratelimit-limit',
      String(limit),
      'x-ratelimit-remaining',
      String(remaining),
      'x-ratelimit-reset',
      String(reset),
    );
  }
}
