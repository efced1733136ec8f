import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  admit,
  countedAttempts,
  delayAfter,
  NO_ATTEMPTS,
  refund,
  type ThrottlePolicy,
  type ThrottleState,
} from './throttle-policy.ts';

const SECOND = 1000;
const policyArb = fc.record({
  free: fc.integer({ min: 1, max: 10 }),
  baseDelayMs: fc.integer({ min: 1, max: 60 * SECOND }),
  maxDelayMs: fc.integer({ min: 60 * SECOND, max: 3600 * SECOND }),
  forgiveMs: fc.integer({ min: SECOND, max: 7200 * SECOND }),
});

/** Plays attempts at the given gaps; returns every admission. */
function play(policy: ThrottlePolicy, gaps: number[], start = 1_000_000) {
  let state: ThrottleState = NO_ATTEMPTS;
  let now = start;
  const out: Array<{ now: number; allowed: boolean; retryAfterMs?: number; state: ThrottleState }> = [];
  for (const gap of gaps) {
    now += gap;
    const a = admit(state, now, policy);
    if (a.allowed) state = a.next;
    out.push(
      a.allowed
        ? { now, allowed: true, state }
        : { now, allowed: false, retryAfterMs: a.retryAfterMs, state },
    );
  }
  return out;
}

describe('throttle policy', () => {
  it('five wrong passwords are free; the sixth waits the base delay, then waits double, up to the cap', () => {
    const policy = { free: 5, baseDelayMs: 30 * SECOND, maxDelayMs: 3600 * SECOND, forgiveMs: 3600 * SECOND };
    let state = NO_ATTEMPTS;
    let now = 0;
    const waits: number[] = [];
    for (let i = 0; i < 14; i++) {
      const a = admit(state, now, policy);
      expect(a.allowed).toBe(true);
      if (!a.allowed) return;
      state = a.next;
      waits.push(state.blockedUntil - now);
      // one millisecond early is refused, on time is admitted
      if (state.blockedUntil > now) expect(admit(state, state.blockedUntil - 1, policy).allowed).toBe(false);
      now = state.blockedUntil;
    }
    expect(waits.map((w) => w / SECOND)).toEqual([
      0, 0, 0, 0, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600,
    ]);
  });

  it('never refuses for good: every refusal names a wait within the cap, and trying then is admitted', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(fc.integer({ min: 0, max: 600 * SECOND }), { maxLength: 60 }),
        (policy, gaps) => {
          for (const step of play(policy, gaps)) {
            if (step.allowed) continue;
            expect(step.retryAfterMs).toBeGreaterThan(0);
            expect(step.retryAfterMs).toBeLessThanOrEqual(policy.maxDelayMs);
            expect(admit(step.state, step.now + step.retryAfterMs!, policy).allowed).toBe(true);
          }
        },
      ),
    );
  });

  it('the first `free` attempts are admitted at any pace without a wait', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(fc.integer({ min: 0, max: 10 * SECOND }), { minLength: 1, maxLength: 10 }),
        (policy, gaps) => {
          const steps = play(policy, gaps.slice(0, policy.free));
          for (const [i, step] of steps.entries()) {
            expect(step.allowed).toBe(true);
            if (i < policy.free - 1) expect(step.state.blockedUntil).toBe(step.now);
          }
        },
      ),
    );
  });

  it('bounds a persistent guesser: admitted attempts in a span stay within free + doublings + span / min(cap, forgive)', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(fc.integer({ min: 0, max: 5 * SECOND }), { maxLength: 300 }),
        (policy, gaps) => {
          const steps = play(policy, gaps);
          const span = steps.length > 0 ? steps.at(-1)!.now - 1_000_000 : 0;
          const admitted = steps.filter((s) => s.allowed).length;
          const doublings = Math.ceil(Math.log2(policy.maxDelayMs / policy.baseDelayMs)) + 1;
          const steady = Math.min(policy.maxDelayMs, policy.forgiveMs);
          expect(admitted).toBeLessThanOrEqual(policy.free + doublings + Math.ceil(span / steady) + 1);
        },
      ),
    );
  });

  it('quiet time forgives one attempt per forgiveMs', () => {
    const policy = { free: 3, baseDelayMs: SECOND, maxDelayMs: 10 * SECOND, forgiveMs: 60 * SECOND };
    const state = { attempts: 5, lastAttemptAt: 0, blockedUntil: 4 * SECOND };
    expect(countedAttempts(state, 59 * SECOND, policy)).toBe(5);
    expect(countedAttempts(state, 60 * SECOND, policy)).toBe(4);
    expect(countedAttempts(state, 10 * 60 * SECOND, policy)).toBe(0);
  });

  it('a refunded attempt leaves no wait behind it', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(fc.integer({ min: 0, max: 600 * SECOND }), { maxLength: 30 }),
        (policy, gaps) => {
          const steps = play(policy, gaps);
          const before = steps.filter((s) => s.allowed).at(-2)?.state ?? NO_ATTEMPTS;
          const last = steps.filter((s) => s.allowed).at(-1);
          if (!last) return;
          const back = refund(last.state, policy);
          expect(back.attempts).toBe(Math.max(0, last.state.attempts - 1));
          expect(back.blockedUntil).toBeLessThanOrEqual(last.state.blockedUntil);
          expect(back.blockedUntil - last.now).toBeLessThanOrEqual(delayAfter(back.attempts, policy));
          if (before === NO_ATTEMPTS) expect(back.blockedUntil).toBe(last.now);
        },
      ),
    );
  });
});
