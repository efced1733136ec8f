import fc from 'fast-check';
import type { LeaseCall, LeaseOp, LeasePolicy, QuotaPart, RatePart } from '../lease-store.ts';
import type { LeaseStateNames } from './lease-state.ts';

/**
 * Generated sequences of lease-store calls for the contract test: a few holders, subjects (one
 * with ':' and braces, which key names and notices must carry), periods and buckets, small
 * numbers so that blocks, reclaims, expiries and give-backs all happen within a sequence, and a
 * clock that mostly moves forward but sometimes steps back (a bucket never refills backwards).
 * Each subject keeps one limit and each bucket one rate through a sequence, as on a gateway.
 */
export const SUBJECTS = ['a', 'b:{x}'] as const;
export const RATE_SUBJECTS = ['a', 'key:1'] as const;
export const HOLDERS = ['g1', 'g2', 'g3'] as const;
export const PERIODS = [20_000, 20_001] as const;
const START_MS = 20_000 * 86_400_000 + 5_000;

export interface LeaseScenario {
  policy: LeasePolicy;
  calls: LeaseCall[];
}

export const SCENARIO_NAMES: LeaseStateNames = {
  quotas: SUBJECTS.flatMap((subject) => PERIODS.map((periodId) => ({ subject, periodId }))),
  rateSubjects: [...RATE_SUBJECTS],
};

const policyArb: fc.Arbitrary<LeasePolicy> = fc.record({
  quotaDivisor: fc.constantFrom(1, 2, 4, 16),
  rateDivisor: fc.constantFrom(1, 2, 3),
  reclaimHoldMs: fc.constantFrom(0, 300, 2_000),
});

const rateArb: fc.Arbitrary<{ perSecond: number; burst: number }> = fc.record({
  perSecond: fc.oneof(
    fc.integer({ min: 0, max: 30 }),
    fc.double({ min: 0.3, max: 25, noNaN: true, noDefaultInfinity: true }),
  ),
  burst: fc.integer({ min: 1, max: 20 }),
});

function opArb(limits: number[], rates: { perSecond: number; burst: number }[]): fc.Arbitrary<LeaseOp> {
  const subjectIndex = fc.integer({ min: 0, max: SUBJECTS.length - 1 });
  const rateIndex = fc.integer({ min: 0, max: RATE_SUBJECTS.length - 1 });
  const periodId = fc.oneof(
    { weight: 4, arbitrary: fc.constant(PERIODS[0]) },
    { weight: 1, arbitrary: fc.constant(PERIODS[1]) },
  );
  const quotaPart = (s: number, p: number): QuotaPart => ({
    limit: limits[s]!,
    periodId: p,
    keyTtlMs: 3_600_000,
  });
  const ratePart = (r: number): RatePart => ({ ...rates[r]!, keyTtlMs: 120_000 });
  const small = (max: number) => fc.integer({ min: 0, max });
  const decide = fc
    .record({
      s: subjectIndex,
      r: rateIndex,
      p: periodId,
      cost: fc.oneof(
        { weight: 4, arbitrary: small(4) },
        { weight: 1, arbitrary: fc.integer({ min: 5, max: 40 }) },
      ),
      q: fc.boolean(),
      rt: fc.boolean(),
      mayWait: fc.boolean(),
    })
    .map(
      (x): LeaseOp => ({
        kind: 'decide',
        subject: SUBJECTS[x.s]!,
        rateSubject: RATE_SUBJECTS[x.r]!,
        cost: x.cost,
        quota: x.q ? quotaPart(x.s, x.p) : null,
        rate: x.rt ? ratePart(x.r) : null,
        mayWait: x.mayWait,
      }),
    );
  // Arbitrary reports, not a holder's consistent ones: the store must answer any call alike.
  const quotaLease = fc
    .record({
      s: subjectIndex,
      p: periodId,
      lease: fc.oneof({ weight: 4, arbitrary: fc.constant('1') }, { weight: 1, arbitrary: fc.constant('2') }),
      seen: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: small(10) }),
      used: small(10),
      close: fc.oneof(
        { weight: 3, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
      want: small(24),
      window: small(4),
      ttl: fc.constantFrom(400, 2_000, 8_000),
    })
    .map(
      (x): LeaseOp => ({
        kind: 'quota-lease',
        subject: SUBJECTS[x.s]!,
        quota: quotaPart(x.s, x.p),
        lease: x.lease,
        granted: x.seen,
        used: x.used,
        close: x.close,
        want: x.want,
        leaseTtlMs: x.ttl,
        window: x.window,
      }),
    );
  const rateLease = fc
    .record({
      r: rateIndex,
      keep: small(5),
      ret: small(5),
      want: small(12),
      ttl: fc.constantFrom(250, 600, 1_000, 1_500),
    })
    .map(
      (x): LeaseOp => ({
        kind: 'rate-lease',
        rateSubject: RATE_SUBJECTS[x.r]!,
        rate: ratePart(x.r),
        keep: x.keep,
        ret: x.ret,
        want: x.want,
        shareTtlMs: x.ttl,
      }),
    );
  return fc.oneof(
    { weight: 4, arbitrary: decide },
    { weight: 3, arbitrary: quotaLease },
    { weight: 3, arbitrary: rateLease },
  );
}

const stepMsArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 60 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2_500 }) },
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: -40, max: 0 }) },
);

export function leaseScenarioArb(maxCalls = 40): fc.Arbitrary<LeaseScenario> {
  return fc
    .record({
      policy: policyArb,
      // Small limits run out; larger ones give blocks at quotaDivisor 16 too.
      limits: fc.array(fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 20, max: 120 })), {
        minLength: SUBJECTS.length,
        maxLength: SUBJECTS.length,
      }),
      rates: fc.array(rateArb, { minLength: RATE_SUBJECTS.length, maxLength: RATE_SUBJECTS.length }),
    })
    .chain(({ policy, limits, rates }) =>
      fc
        .array(
          fc.record({
            holder: fc.constantFrom(...HOLDERS),
            stepMs: stepMsArb,
            ops: fc.array(opArb(limits, rates), { minLength: 1, maxLength: 4 }),
          }),
          { minLength: 1, maxLength: maxCalls, size: 'max' },
        )
        .map((steps) => {
          let now = START_MS;
          const calls = steps.map((s): LeaseCall => {
            now += s.stepMs;
            return { holder: s.holder, nowMs: now, ops: s.ops };
          });
          return { policy, calls };
        }),
    );
}
