import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  DecideOp,
  DecideReply,
  LeaseCall,
  LeaseNotice,
  LeaseOp,
  LeasePolicy,
  QuotaLeaseOp,
  QuotaLeaseReply,
  QuotaPart,
  RateLeaseOp,
  RateLeaseReply,
  RatePart,
} from '../lease-store.ts';
import { type LeaseScenario, leaseScenarioArb, SCENARIO_NAMES } from './lease-call-arbitrary.ts';
import { type LeaseStateNames, type LeaseStoreHarness, stateKey } from './lease-state.ts';

/**
 * The LeaseStore contract: one suite that every store runs (MemoryLeaseStore in core's unit
 * tests, RedisLeaseStore against real Redis), so the two cannot drift; plus `playDifferential`,
 * which plays the same generated calls on two stores and requires identical replies, state and
 * notices after every call. Calls carry `nowMs` (the store's clock is checked on its own).
 */
export type LeaseStoreFactory = (policy: LeasePolicy) => Promise<LeaseStoreHarness>;

export interface LeaseStoreContractOptions {
  /** Generated sequences for the invariant property (each call is a round trip on Redis). */
  propertyRuns: number;
  /** How long a notice may take to reach a listener, in ms (0: delivered within the run). */
  noticeDeadlineMs: number;
}

const T0 = 20_000 * 86_400_000 + 1_000;
const PERIOD = 20_000;
const POLICY: LeasePolicy = { quotaDivisor: 4, rateDivisor: 2, reclaimHoldMs: 500 };

function quota(limit: number, periodId = PERIOD): QuotaPart {
  return { limit, periodId, keyTtlMs: 3_600_000 };
}

function rate(perSecond: number, burst: number): RatePart {
  return { perSecond, burst, keyTtlMs: 120_000 };
}

function decide(subject: string, cost: number, parts: Partial<DecideOp> = {}): DecideOp {
  return {
    kind: 'decide',
    subject,
    rateSubject: subject,
    cost,
    quota: null,
    rate: null,
    mayWait: false,
    ...parts,
  };
}

function quotaLease(subject: string, q: QuotaPart, parts: Partial<QuotaLeaseOp>): QuotaLeaseOp {
  return {
    kind: 'quota-lease',
    subject,
    quota: q,
    lease: 'L1',
    granted: 0,
    used: 0,
    close: false,
    want: 0,
    leaseTtlMs: 1_000,
    window: 0,
    ...parts,
  };
}

function rateLease(rateSubject: string, r: RatePart, parts: Partial<RateLeaseOp>): RateLeaseOp {
  return { kind: 'rate-lease', rateSubject, rate: r, keep: 0, ret: 0, want: 0, shareTtlMs: 1_000, ...parts };
}

/** Polls `ready` until it holds or the deadline passes (never a fixed sleep). */
async function eventually(ready: () => boolean, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!ready() && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
}

export function leaseStoreContract(
  name: string,
  factory: LeaseStoreFactory,
  opts: LeaseStoreContractOptions,
): void {
  describe(`${name}: the LeaseStore contract`, () => {
    const open: LeaseStoreHarness[] = [];
    afterEach(async () => {
      for (const h of open.splice(0)) await h.close();
    });

    async function make(policy: LeasePolicy = POLICY) {
      const h = await factory(policy);
      open.push(h);
      const notices: LeaseNotice[] = [];
      h.store.listen((n) => notices.push(n));
      const run1 = async (holder: string, nowMs: number | null, op: LeaseOp) => {
        const replies = await h.store.run({ holder, nowMs, ops: [op] });
        expect(replies).toHaveLength(1);
        return replies[0]!;
      };
      return {
        h,
        notices,
        run: (call: LeaseCall) => h.store.run(call),
        decide: async (holder: string, nowMs: number, op: DecideOp) =>
          (await run1(holder, nowMs, op)) as DecideReply,
        quotaLease: async (holder: string, nowMs: number | null, op: QuotaLeaseOp) =>
          (await run1(holder, nowMs, op)) as QuotaLeaseReply,
        rateLease: async (holder: string, nowMs: number | null, op: RateLeaseOp) =>
          (await run1(holder, nowMs, op)) as RateLeaseReply,
        state: (names: LeaseStateNames) => h.state(names),
        waitForNotices: (count: number) => eventually(() => notices.length >= count, opts.noticeDeadlineMs),
        /**
         * Publishes a reclaim on subject 'fence' and waits for it: notices arrive in publication
         * order, so once it is in, every notice published before it is too.
         */
        fence: async (nowMs: number) => {
          const q = quota(8);
          await run1('f1', nowMs, quotaLease('fence', q, { want: 8 }));
          const reply = (await run1(
            'f2',
            nowMs,
            decide('fence', 8, { quota: q, mayWait: true }),
          )) as DecideReply;
          expect(reply.outcome).toBe('wait');
          await eventually(() => notices.some((n) => n.subject === 'fence'), opts.noticeDeadlineMs);
          expect(notices.at(-1)?.subject).toBe('fence');
        },
      };
    }

    const one = (subject: string, periodId = PERIOD): LeaseStateNames => ({
      quotas: [{ subject, periodId }],
      rateSubjects: [subject],
    });

    it('a decision counts quota units up to the limit and then refuses; used is the counter before it', async () => {
      const s = await make();
      const q = quota(3);
      const replies = [];
      for (let i = 0; i < 5; i++)
        replies.push(await s.decide('g1', T0, decide('c', i < 4 ? 1 : 0, { quota: q })));
      expect(replies.map((r) => [r.outcome, r.used])).toEqual([
        ['allowed', 0],
        ['allowed', 1],
        ['allowed', 2],
        ['quota', 3],
        ['allowed', 3],
      ]);
      expect(replies.every((r) => r.tokens === null)).toBe(true);
      expect((await s.state(one('c'))).counters[stateKey('c', PERIOD)]).toBe(3);
    });

    it('a request refused by the rate takes no quota unit, one refused by the quota takes no token', async () => {
      const s = await make();
      const r = rate(1, 2);
      const first = await s.decide('g1', T0, decide('c', 2, { quota: quota(3), rate: r }));
      expect(first).toEqual({ kind: 'decide', outcome: 'allowed', used: 0, tokens: 0 });
      const byRate = await s.decide('g1', T0, decide('c', 1, { quota: quota(3), rate: r }));
      expect(byRate).toEqual({ kind: 'decide', outcome: 'rate', used: 2, tokens: 0 });
      expect((await s.state(one('c'))).counters[stateKey('c', PERIOD)]).toBe(2);
      const byQuota = await s.decide('g1', T0 + 2_000, decide('c', 2, { quota: quota(3), rate: r }));
      expect(byQuota.outcome).toBe('quota');
      // Two seconds refilled both tokens; the refused request took none of them.
      const after = await s.decide('g1', T0 + 2_000, decide('c', 1, { quota: quota(3), rate: r }));
      expect(after).toEqual({ kind: 'decide', outcome: 'allowed', used: 2, tokens: 1 });
    });

    it('the bucket refills by elapsed store time at a fractional rate, capped at the burst, never backwards', async () => {
      const s = await make();
      const perSecond = 0.7;
      const r = rate(perSecond, 5);
      let tokens = 5 - 3;
      expect((await s.decide('g1', T0, decide('k', 3, { rate: r }))).tokens).toBe(tokens);
      tokens = Math.min(5, tokens + (1_300 / 1000) * perSecond) - 1;
      expect((await s.decide('g1', T0 + 1_300, decide('k', 1, { rate: r }))).tokens).toBe(tokens);
      // A store time before the last refill refills nothing.
      expect((await s.decide('g1', T0 + 1_000, decide('k', 0, { rate: r }))).tokens).toBe(tokens);
      expect((await s.decide('g1', T0 + 60_000, decide('k', 0, { rate: r }))).tokens).toBe(5);
      const b = (await s.state(one('k'))).buckets.k;
      expect(b).toMatchObject({ t: 5, ts: T0 + 60_000, lz: 0, le: 0, shares: {} });
    });

    const leaseReply = (
      granted: number,
      used: number,
      more: Partial<QuotaLeaseReply> = {},
    ): QuotaLeaseReply => ({
      kind: 'quota-lease',
      granted,
      used,
      expired: false,
      returned: 0,
      ...more,
    });

    it('quota blocks are at most free / quotaDivisor and at most want; the counter holds them', async () => {
      const s = await make();
      const q = quota(100);
      const wants = [1_000, 1_000, 5, 1_000];
      const grants: QuotaLeaseReply[] = [];
      let seen = 0;
      for (const want of wants) {
        const reply = await s.quotaLease('g1', T0, quotaLease('c', q, { want, granted: seen }));
        seen += reply.granted;
        grants.push(reply);
      }
      const expected = [];
      let used = 0;
      for (const want of wants) {
        const granted = Math.min(want, Math.floor((100 - used) / POLICY.quotaDivisor));
        used += granted;
        expected.push(leaseReply(granted, used));
      }
      expect(grants).toEqual(expected);
      // Below quotaDivisor free units there is no block: every request asks the store.
      const full = await s.decide('g2', T0, decide('c', 100 - used - 3, { quota: q }));
      expect(full.outcome).toBe('allowed');
      expect(await s.quotaLease('g2', T0, quotaLease('c', q, { want: 10 }))).toEqual(leaseReply(0, 97));
      // A lease is recorded once it has units: g2's never had any.
      const st = await s.state(one('c'));
      expect(st.leases[stateKey('c', PERIOD)]?.leases).toEqual({
        'g1 L1': { granted: seen, used: 0, window: 0, exp: T0 + 1_000 },
      });
    });

    it('a lease records G, U = the largest reported usage (at most G), the window and its expiry; a close gives back G - U', async () => {
      const s = await make();
      const q = quota(40);
      expect(await s.quotaLease('g1', T0, quotaLease('c', q, { want: 4, window: 1 }))).toEqual(
        leaseReply(4, 4),
      );
      const more = quotaLease('c', q, { granted: 4, used: 3, want: 2, window: 2, leaseTtlMs: 700 });
      expect(await s.quotaLease('g1', T0 + 100, more)).toEqual(leaseReply(2, 6));
      const lease = async () => (await s.state(one('c'))).leases[stateKey('c', PERIOD)]?.leases['g1 L1'];
      expect(await lease()).toEqual({ granted: 6, used: 3, window: 2, exp: T0 + 800 });
      // A report is cumulative: an older, lower one changes nothing; one above G counts as G.
      await s.quotaLease(
        'g1',
        T0 + 150,
        quotaLease('c', q, { granted: 6, used: 1, window: 2, leaseTtlMs: 700 }),
      );
      expect(await lease()).toEqual({ granted: 6, used: 3, window: 2, exp: T0 + 850 });
      // Another lease id of the same holder is another lease.
      expect(await s.quotaLease('g1', T0 + 150, quotaLease('c', q, { lease: 'L2', want: 1 }))).toEqual(
        leaseReply(1, 7),
      );
      const close = quotaLease('c', q, { granted: 6, used: 5, close: true });
      expect(await s.quotaLease('g1', T0 + 200, close)).toEqual(leaseReply(0, 6, { returned: 1 }));
      const st = await s.state(one('c'));
      expect(st.leases[stateKey('c', PERIOD)]?.leases).toEqual({
        'g1 L2': { granted: 1, used: 0, window: 0, exp: T0 + 1_150 },
      });
      expect(st.counters[stateKey('c', PERIOD)]).toBe(6);
      const over = quotaLease('c', q, { lease: 'L2', granted: 1, used: 9, close: true });
      expect(await s.quotaLease('g1', T0 + 300, over)).toEqual(leaseReply(0, 6, { returned: 0 }));
      expect((await s.state(one('c'))).leases[stateKey('c', PERIOD)]).toBeNull();
    });

    it('a call on a lease the store does not have: expired when the holder had seen units (and nothing else happens)', async () => {
      const s = await make();
      const q = quota(40);
      await s.decide('g2', T0, decide('c', 3, { quota: q }));
      const gone = quotaLease('c', q, { lease: 'L9', granted: 3, used: 1, want: 10 });
      expect(await s.quotaLease('g1', T0, gone)).toEqual(leaseReply(0, 3, { expired: true }));
      const closeNothing = quotaLease('c', q, { lease: 'L8', close: true, want: 10 });
      expect(await s.quotaLease('g1', T0, closeNothing)).toEqual(leaseReply(0, 3));
      const st = await s.state(one('c'));
      expect(st.leases[stateKey('c', PERIOD)]).toBeNull();
      expect(st.counters[stateKey('c', PERIOD)]).toBe(3);
    });

    it('an expired lease gives back G - U - min(W, G - U) and keeps its window counted; expiry runs before each op of the period', async () => {
      const s = await make();
      const q = quota(40);
      await s.quotaLease('g1', T0, quotaLease('c', q, { want: 8, leaseTtlMs: 5_000 }));
      await s.quotaLease('g1', T0, quotaLease('c', q, { granted: 8, used: 2, window: 3, leaseTtlMs: 1_000 }));
      await s.quotaLease('g2', T0, quotaLease('c', q, { want: 4, window: 10, leaseTtlMs: 1_500 }));
      expect((await s.state(one('c'))).counters[stateKey('c', PERIOD)]).toBe(12);
      // Another period's op expires nothing here.
      await s.decide('g3', T0 + 1_000, decide('c', 0, { quota: quota(40, PERIOD + 1) }));
      expect((await s.state(one('c'))).counters[stateKey('c', PERIOD)]).toBe(12);
      // g1's lease expires: 6 unused, 3 of them kept counted (its window), 3 back.
      expect(await s.decide('g3', T0 + 1_000, decide('c', 0, { quota: q }))).toMatchObject({
        outcome: 'allowed',
        used: 9,
      });
      // g2's: 4 unused, all within its window of 10: none back.
      const last = await s.quotaLease('g3', T0 + 1_500, quotaLease('c', q, { want: 0 }));
      expect(last).toEqual(leaseReply(0, 9));
      expect((await s.state(one('c'))).leases[stateKey('c', PERIOD)]).toEqual({
        leases: {},
        reclaimUntil: 0,
        forfeited: 3 + 4,
        expiries: 2,
      });
      // The holder learns of it on its next call.
      const late = quotaLease('c', q, { granted: 8, used: 8, want: 4 });
      expect(await s.quotaLease('g1', T0 + 1_600, late)).toEqual(leaseReply(0, 9, { expired: true }));
    });

    it('give-backs never take the counter below zero', async () => {
      const s = await make();
      const q = quota(40);
      await s.quotaLease('g1', T0, quotaLease('c', q, { want: 10, leaseTtlMs: 500 }));
      await s.quotaLease('g2', T0, quotaLease('c', q, { want: 10, leaseTtlMs: 5_000 }));
      await s.h.store.refund('c', PERIOD, 15);
      expect((await s.state(one('c'))).counters[stateKey('c', PERIOD)]).toBe(17 - 15);
      expect(await s.decide('g3', T0 + 500, decide('c', 0, { quota: q }))).toMatchObject({ used: 0 });
      const close = quotaLease('c', q, { granted: 7, close: true });
      expect(await s.quotaLease('g2', T0 + 600, close)).toEqual(leaseReply(0, 0, { returned: 7 }));
      expect((await s.state(one('c'))).counters[stateKey('c', PERIOD)]).toBe(0);
    });

    it('ops of one run apply in order, one reply each: a later op sees what an earlier one did', async () => {
      const s = await make();
      const q = quota(8);
      const replies = await s.run({
        holder: 'g1',
        nowMs: T0,
        ops: [
          quotaLease('c', q, { want: 8 }),
          decide('c', 6, { quota: q }),
          decide('c', 5, { quota: q }),
          quotaLease('c', q, { granted: 2, close: true }),
          decide('c', 4, { quota: q }),
        ],
      });
      expect(replies).toEqual([
        leaseReply(2, 2),
        { kind: 'decide', outcome: 'allowed', used: 2, tokens: null },
        { kind: 'decide', outcome: 'quota', used: 8, tokens: null },
        leaseReply(0, 6, { returned: 2 }),
        { kind: 'decide', outcome: 'quota', used: 6, tokens: null },
      ]);
      expect(await s.run({ holder: 'g1', nowMs: T0, ops: [] })).toEqual([]);
    });

    it('a refusal while another holder has unreported units waits and reclaims; a close tells waiters; the hold stops new blocks', async () => {
      const s = await make();
      const q = quota(8);
      const first = await s.quotaLease('g1', T0, quotaLease('c:1', q, { want: 8, leaseTtlMs: 5_000 }));
      expect(first.granted).toBe(2);
      await s.decide('g2', T0, decide('c:1', 5, { quota: q }));
      // 7 of 8 reserved, 2 of them unused in g1's lease: a request of 2 waits, unless it may not.
      expect(await s.decide('g2', T0 + 10, decide('c:1', 2, { quota: q }))).toMatchObject({
        outcome: 'quota',
        used: 7,
      });
      expect(await s.decide('g2', T0 + 10, decide('c:1', 2, { quota: q, mayWait: true }))).toMatchObject({
        outcome: 'wait',
        used: 7,
      });
      // Its own lease is no reason to wait.
      expect(await s.decide('g1', T0 + 10, decide('c:1', 2, { quota: q, mayWait: true }))).toMatchObject({
        outcome: 'quota',
      });
      await s.waitForNotices(1);
      expect(s.notices).toEqual([{ kind: 'reclaim', subject: 'c:1', periodId: PERIOD }]);
      const rec = (await s.state(one('c:1'))).leases[stateKey('c:1', PERIOD)];
      expect(rec?.reclaimUntil).toBe(T0 + 10 + POLICY.reclaimHoldMs);
      // During the hold no holder gets a block.
      expect((await s.quotaLease('g3', T0 + 20, quotaLease('c:1', q, { want: 8 }))).granted).toBe(0);
      const close = quotaLease('c:1', q, { granted: 2, close: true });
      expect(await s.quotaLease('g1', T0 + 30, close)).toEqual(leaseReply(0, 5, { returned: 2 }));
      await s.waitForNotices(2);
      expect(s.notices[1]).toEqual({ kind: 'returned', subject: 'c:1', periodId: PERIOD });
      expect(await s.decide('g2', T0 + 40, decide('c:1', 2, { quota: q, mayWait: true }))).toMatchObject({
        outcome: 'allowed',
        used: 5,
      });
      // After the hold, blocks again, and closes are no longer announced.
      const afterHold = T0 + 10 + POLICY.reclaimHoldMs;
      expect((await s.quotaLease('g3', afterHold, quotaLease('c:1', q, { want: 8 }))).granted).toBe(0);
      const g = await s.quotaLease('g3', afterHold, quotaLease('c:1', quota(20), { want: 8 }));
      expect(g.granted).toBe(Math.floor((20 - 7) / POLICY.quotaDivisor));
      // A close at the very end of the hold is after it.
      await s.quotaLease('g3', afterHold, quotaLease('c:1', q, { granted: g.granted, close: true }));
      await s.fence(T0 + 2_000);
      expect(s.notices.map((n) => n.kind)).toEqual(['reclaim', 'returned', 'reclaim']);
      expect(s.notices[2]?.subject).toBe('fence');
    });

    it('units another holder reported used, or whose lease expired, are no reason to wait', async () => {
      const s = await make();
      const q = quota(16);
      await s.quotaLease('g1', T0, quotaLease('c', q, { want: 2, leaseTtlMs: 1_000 }));
      await s.quotaLease('g3', T0, quotaLease('c', q, { want: 2, leaseTtlMs: 500 }));
      await s.decide('g2', T0, decide('c', 11, { quota: q }));
      expect(await s.decide('g2', T0 + 10, decide('c', 2, { quota: q, mayWait: true }))).toMatchObject({
        outcome: 'wait',
        used: 15,
      });
      await s.quotaLease('g1', T0 + 20, quotaLease('c', q, { granted: 2, used: 2, leaseTtlMs: 980 }));
      // g3's 2 unreported units are still worth waiting for.
      expect((await s.decide('g2', T0 + 30, decide('c', 2, { quota: q, mayWait: true }))).outcome).toBe(
        'wait',
      );
      // g3's lease expired (its 2 back): what is left is reported used.
      expect(await s.decide('g2', T0 + 500, decide('c', 4, { quota: q, mayWait: true }))).toMatchObject({
        outcome: 'quota',
        used: 13,
      });
      expect((await s.state(one('c'))).leases[stateKey('c', PERIOD)]).toEqual({
        leases: { 'g1 L1': { granted: 2, used: 2, window: 0, exp: T0 + 1_000 } },
        reclaimUntil: T0 + 30 + POLICY.reclaimHoldMs,
        forfeited: 0,
        expiries: 1,
      });
    });

    it('periods are separate counters and lease records', async () => {
      const s = await make();
      await s.decide('g1', T0, decide('c', 3, { quota: quota(3, PERIOD) }));
      expect(await s.decide('g1', T0, decide('c', 3, { quota: quota(3, PERIOD + 1) }))).toMatchObject({
        outcome: 'allowed',
        used: 0,
      });
      const st = await s.state({
        quotas: [
          { subject: 'c', periodId: PERIOD },
          { subject: 'c', periodId: PERIOD + 1 },
        ],
        rateSubjects: [],
      });
      expect(st.counters).toEqual({ [stateKey('c', PERIOD)]: 3, [stateKey('c', PERIOD + 1)]: 3 });
    });

    it('rate shares are at most tokens / rateDivisor; held shares cap the bucket until they expire', async () => {
      const s = await make();
      const r = rate(10, 8);
      const got = await s.rateLease('g1', T0, rateLease('k', r, { want: 100, shareTtlMs: 1_000 }));
      expect(got).toEqual({ kind: 'rate-lease', granted: 4, kept: 0, tokens: 4 });
      const second = await s.rateLease('g2', T0, rateLease('k', r, { want: 100, shareTtlMs: 500 }));
      expect(second).toEqual({ kind: 'rate-lease', granted: 2, kept: 0, tokens: 2 });
      const third = await s.rateLease('g3', T0, rateLease('k', r, { want: 100, shareTtlMs: 750 }));
      expect(third).toEqual({ kind: 'rate-lease', granted: 1, kept: 0, tokens: 1 });
      // Long enough to refill everything: the bucket stops at burst - shares.
      expect((await s.decide('g4', T0 + 400, decide('k', 0, { rate: r }))).tokens).toBe(8 - 7);
      expect((await s.state(one('k'))).buckets.k).toEqual({
        t: 1,
        ts: T0 + 400,
        lz: 7,
        le: T0 + 500,
        shares: {
          g1: { claim: 4, exp: T0 + 1_000 },
          g2: { claim: 2, exp: T0 + 500 },
          g3: { claim: 1, exp: T0 + 750 },
        },
      });
      // g2's share expired: the bucket may fill up to burst - the others' shares; the next expiry
      // to look for is g3's.
      expect((await s.decide('g4', T0 + 600, decide('k', 0, { rate: r }))).tokens).toBe(8 - 5);
      expect((await s.state(one('k'))).buckets.k).toMatchObject({
        lz: 5,
        le: T0 + 750,
        shares: { g1: { claim: 4, exp: T0 + 1_000 }, g3: { claim: 1, exp: T0 + 750 } },
      });
      // An expired share cannot be kept.
      expect(await s.rateLease('g2', T0 + 600, rateLease('k', r, { keep: 2 }))).toEqual({
        kind: 'rate-lease',
        granted: 0,
        kept: 0,
        tokens: 3,
      });
    });

    it('giving back a share returns its tokens; keeping renews it; kept never exceeds the share', async () => {
      const s = await make();
      const r = rate(0, 10);
      await s.rateLease('g1', T0, rateLease('k', r, { want: 4 }));
      const kept = await s.rateLease(
        'g1',
        T0 + 100,
        rateLease('k', r, { keep: 9, want: 0, shareTtlMs: 800 }),
      );
      expect(kept).toEqual({ kind: 'rate-lease', granted: 0, kept: 4, tokens: 6 });
      expect((await s.state(one('k'))).buckets.k?.shares).toEqual({ g1: { claim: 4, exp: T0 + 900 } });
      const back = await s.rateLease('g1', T0 + 200, rateLease('k', r, { keep: 1, ret: 9 }));
      expect(back).toEqual({ kind: 'rate-lease', granted: 0, kept: 1, tokens: 9 });
      const none = await s.rateLease('g1', T0 + 300, rateLease('k', r, { keep: 0, ret: 1 }));
      expect(none).toEqual({ kind: 'rate-lease', granted: 0, kept: 0, tokens: 10 });
      expect((await s.state(one('k'))).buckets.k).toMatchObject({ lz: 0, le: 0, shares: {} });
    });

    it('refund gives units back, never below zero, and creates no counter', async () => {
      const s = await make();
      await s.h.store.refund('c', PERIOD, 2);
      expect((await s.state(one('c'))).counters[stateKey('c', PERIOD)]).toBeNull();
      await s.decide('g1', T0, decide('c', 3, { quota: quota(5) }));
      await s.h.store.refund('c', PERIOD, 2);
      expect((await s.state(one('c'))).counters[stateKey('c', PERIOD)]).toBe(1);
      await s.h.store.refund('c', PERIOD, 2);
      expect((await s.state(one('c'))).counters[stateKey('c', PERIOD)]).toBe(0);
    });

    it('calls() counts every run and refund', async () => {
      const s = await make();
      const before = s.h.store.calls();
      await s.run({
        holder: 'g1',
        nowMs: T0,
        ops: [decide('c', 1, { quota: quota(5) }), decide('c', 1, { quota: quota(5) })],
      });
      await s.h.store.refund('c', PERIOD, 1);
      expect(s.h.store.calls() - before).toBe(2);
    });

    it('without nowMs the store times leases and shares by its own clock', async () => {
      const s = await make();
      const t = Date.now();
      await s.quotaLease('g1', null, quotaLease('c', quota(40), { want: 4, leaseTtlMs: 5_000 }));
      await s.rateLease('g1', null, rateLease('c', rate(10, 8), { want: 4, shareTtlMs: 5_000 }));
      const st = await s.state(one('c'));
      const leaseExp = st.leases[stateKey('c', PERIOD)]?.leases['g1 L1']?.exp ?? 0;
      const shareExp = st.buckets.c?.shares.g1?.exp ?? 0;
      for (const exp of [leaseExp, shareExp]) {
        expect(exp).toBeGreaterThanOrEqual(t + 5_000 - 1_000);
        expect(exp).toBeLessThanOrEqual(Date.now() + 5_000 + 1_000);
      }
    });

    it('generated calls keep counters >= 0 and tokens + live shares <= burst', async () => {
      await fc.assert(
        fc.asyncProperty(leaseScenarioArb(25), async (scenario) => {
          const h = await factory(scenario.policy);
          try {
            for (const call of scenario.calls) {
              const replies = await h.store.run(call);
              expect(replies.map((r) => r.kind)).toEqual(call.ops.map((o) => o.kind));
              const st = await h.state(SCENARIO_NAMES);
              for (const c of Object.values(st.counters)) expect(c ?? 0).toBeGreaterThanOrEqual(0);
              for (const [rs, b] of Object.entries(st.buckets)) {
                if (b === null) continue;
                const burst = call.ops.find(
                  (o) => o.kind !== 'quota-lease' && o.rateSubject === rs && o.rate !== null,
                );
                const live = Object.values(b.shares).filter((sh) => sh.exp > (call.nowMs ?? 0));
                const held = live.reduce((sum, sh) => sum + sh.claim, 0);
                expect(b.lz).toBeGreaterThanOrEqual(held);
                if (burst !== undefined && burst.kind !== 'quota-lease' && burst.rate !== null) {
                  expect(b.t + b.lz).toBeLessThanOrEqual(burst.rate.burst + 1e-9);
                }
              }
            }
          } finally {
            await h.close();
          }
        }),
        { numRuns: opts.propertyRuns },
      );
    });
  });
}

/**
 * Plays one generated scenario on a model store and on another store and requires, after every
 * call, identical replies and state, and at the end identical notices in the same order.
 */
export async function playDifferential(
  scenario: LeaseScenario,
  makeModel: LeaseStoreFactory,
  makeOther: LeaseStoreFactory,
  noticeDeadlineMs: number,
): Promise<void> {
  const model = await makeModel(scenario.policy);
  const other = await makeOther(scenario.policy);
  const modelNotices: LeaseNotice[] = [];
  const otherNotices: LeaseNotice[] = [];
  model.store.listen((n) => modelNotices.push(n));
  other.store.listen((n) => otherNotices.push(n));
  try {
    for (const [i, call] of scenario.calls.entries()) {
      const want = await model.store.run(call);
      const got = await other.store.run(call);
      expect(got, `replies to call ${i}`).toEqual(want);
      expect(await other.state(SCENARIO_NAMES), `state after call ${i}`).toEqual(
        await model.state(SCENARIO_NAMES),
      );
    }
    await eventually(() => otherNotices.length >= modelNotices.length, noticeDeadlineMs);
    expect(otherNotices).toEqual(modelNotices);
  } finally {
    await model.close();
    await other.close();
  }
}
