import { periodContaining } from '@tollgate/core';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { syncCatalog } from '../src/catalog/sync-catalog.ts';
import { createHarness, createPlan, type Harness, SERVICE_TOKEN, STRIPE_MOCK_BASE } from './helpers.ts';

/**
 * Billing periods and plan changes against Postgres and stripe-mock (with the local test
 * checkout, which plays Stripe's part after payment): every period billing writes is core's
 * billing period (Jan 31 → Feb 28, Feb 29 in a leap year); a plan change, including a new
 * subscription after a downgrade, keeps the consumer's anchor and period; a plan's trial is
 * granted once per consumer; the audit row of a change commits with the change or not at all.
 */
let h: Harness;
let app: FastifyInstance;
let clock = new Date('2026-01-31T10:00:00Z');
const auth = { authorization: `Bearer ${SERVICE_TOKEN}` };
let freeId: string;
let liteId: string;
let proId: string;
let trialId: string;

const newConsumer = async (name: string) => (await h.db.prisma.consumer.create({ data: { name } })).id;

async function checkout(consumerId: string, planId: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/checkout-sessions',
    headers: auth,
    payload: {
      consumerId,
      planId,
      successUrl: 'http://localhost:3000/ok',
      cancelUrl: 'http://localhost:3000/no',
    },
  });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { url?: string; id?: string; activated?: boolean };
  if (body.url !== undefined) {
    // pay on the local page: billing's own webhook gets Stripe's signed events
    const pay = await app.inject({
      method: 'POST',
      url: `/checkout/local/${body.id}/pay`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    expect(pay.statusCode, pay.body).toBe(303);
  }
  return live(consumerId);
}

const live = (consumerId: string) =>
  h.db.prisma.subscription.findFirstOrThrow({
    where: { consumerId, status: { not: 'canceled' } },
    orderBy: { createdAt: 'desc' },
  });

const change = (consumerId: string, planId: string) =>
  app.inject({
    method: 'POST',
    url: '/v1/subscriptions/change',
    headers: auth,
    payload: { consumerId, planId },
  });

beforeAll(async () => {
  h = await createHarness({ stripeApiBase: STRIPE_MOCK_BASE, now: () => clock });
  app = await buildApp(h.deps);
  freeId = (await createPlan(h.db.prisma, { slug: 'free', priceCents: 0, quota: 100 })).id;
  liteId = (await createPlan(h.db.prisma, { slug: 'lite', priceCents: 0, quota: 200 })).id;
  proId = (await createPlan(h.db.prisma, { slug: 'pro', priceCents: 2900, quota: 10_000 })).id;
  trialId = (
    await createPlan(h.db.prisma, { slug: 'trial-pro', priceCents: 4900, quota: 20_000, trialDays: 14 })
  ).id;
  await syncCatalog(h.deps);
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

describe('billing periods are core billing periods', () => {
  it('a subscription starting on Jan 31 renews on Feb 28, and on Feb 29 in a leap year', async () => {
    for (const [start, renews, after] of [
      ['2026-01-31T10:00:00.000Z', '2026-02-28T10:00:00.000Z', '2026-03-31T10:00:00.000Z'],
      ['2028-01-31T10:00:00.000Z', '2028-02-29T10:00:00.000Z', '2028-03-31T10:00:00.000Z'],
    ] as const) {
      for (const planId of [freeId, proId]) {
        clock = new Date(start);
        const sub = await checkout(await newConsumer(`jan31 ${start} ${planId}`), planId);
        expect(sub.currentPeriodStart.toISOString()).toBe(start);
        expect(sub.currentPeriodEnd.toISOString()).toBe(renews);
        // and the period after it ends on the 31st again: the anchor, not the clamped date
        const next = periodContaining(sub.billingAnchor!, 'month', sub.currentPeriodEnd);
        expect([next.start.toISOString(), next.end.toISOString()]).toEqual([renews, after]);
      }
    }
  });

  it("property: every period billing writes (free activation, paid checkout, downgrade) is core's billing period", async () => {
    // Month ends and leap days are where hand-written month arithmetic goes wrong.
    const instant = fc
      .record({
        year: fc.integer({ min: 2026, max: 2032 }),
        month: fc.integer({ min: 0, max: 11 }),
        day: fc.constantFrom(1, 15, 28, 29, 30, 31),
        seconds: fc.integer({ min: 0, max: 86_399 }),
      })
      .map(({ year, month, day, seconds }) => {
        const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
        return new Date(Date.UTC(year, month, Math.min(day, last)) + seconds * 1000);
      });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(instant, fc.integer({ min: 1, max: 70 }), async (start, laterDays) => {
        clock = start;
        const consumerId = await newConsumer(`property ${++n}`);
        const expected = periodContaining(start, 'month', start);
        const free = await checkout(consumerId, freeId);
        expect([free.currentPeriodStart, free.currentPeriodEnd]).toEqual([expected.start, expected.end]);
        // later, a paid checkout and a downgrade keep the anchor: both write core's period
        clock = new Date(start.getTime() + laterDays * 86_400_000 + 3_600_000);
        const period = periodContaining(start, 'month', clock);
        const pro = await checkout(consumerId, proId);
        expect(pro.billingAnchor).toEqual(start);
        expect(pro.currentPeriodEnd).toEqual(period.end);
        expect((await change(consumerId, freeId)).statusCode).toBe(200);
        const back = await live(consumerId);
        expect([back.currentPeriodStart, back.currentPeriodEnd, back.billingAnchor]).toEqual([
          period.start,
          period.end,
          start,
        ]);
      }),
      { numRuns: 12 },
    );
  });
});

describe('plan changes keep the period', () => {
  it('downgrading to free and checking out again keeps the anchor, the period and the carry start', async () => {
    clock = new Date('2026-05-10T08:30:00Z');
    const consumerId = await newConsumer('downgrade co');
    const first = await checkout(consumerId, proId);
    expect(first.billingAnchor?.toISOString()).toBe('2026-05-10T08:30:00.000Z');
    clock = new Date('2026-05-20T12:00:00Z');
    expect((await change(consumerId, freeId)).json().mode).toBe('cancel_to_free');
    const free = await live(consumerId);
    expect(free.planId).toBe(freeId);
    expect(free.currentPeriodStart.toISOString()).toBe('2026-05-10T08:30:00.000Z');
    expect(free.currentPeriodEnd.toISOString()).toBe('2026-06-10T08:30:00.000Z');
    expect(free.carryFrom?.toISOString()).toBe('2026-05-10T08:30:00.000Z');
    clock = new Date('2026-05-25T00:00:00Z');
    const again = await checkout(consumerId, proId);
    expect(again.id).not.toBe(first.id);
    // Stripe's first period runs to the kept anchor (prorated): not a fresh month from today
    expect(again.currentPeriodStart.toISOString()).toBe('2026-05-25T00:00:00.000Z');
    expect(again.currentPeriodEnd.toISOString()).toBe('2026-06-10T08:30:00.000Z');
    expect(again.billingAnchor?.toISOString()).toBe('2026-05-10T08:30:00.000Z');
    expect(again.carryFrom?.toISOString()).toBe('2026-05-10T08:30:00.000Z');
    // free → free (local) keeps the row, so the anchor too
    clock = new Date('2026-05-26T00:00:00Z');
    expect((await change(consumerId, freeId)).statusCode).toBe(200);
    expect((await change(consumerId, liteId)).json().mode).toBe('local');
    expect((await live(consumerId)).billingAnchor?.toISOString()).toBe('2026-05-10T08:30:00.000Z');
  });

  it("a plan's trial is granted once per consumer, not on every checkout", async () => {
    clock = new Date('2026-07-01T00:00:00Z');
    const consumerId = await newConsumer('trial co');
    const trial = await checkout(consumerId, trialId);
    expect(trial.status).toBe('trialing');
    expect(trial.trialEnd?.toISOString()).toBe('2026-07-15T00:00:00.000Z');
    expect(await h.db.prisma.planTrial.count({ where: { consumerId, planId: trialId } })).toBe(1);
    // downgrade, then subscribe to the trial plan again: paid from the first day this time
    clock = new Date('2026-07-05T00:00:00Z');
    expect((await change(consumerId, freeId)).statusCode).toBe(200);
    clock = new Date('2026-07-06T00:00:00Z');
    const again = await checkout(consumerId, trialId);
    expect(again.status).toBe('active');
    expect(again.trialEnd).toBeNull();
    // a plan change in between does not hide the used trial either
    expect((await change(consumerId, proId)).statusCode).toBe(200);
    expect((await change(consumerId, freeId)).statusCode).toBe(200);
    expect((await checkout(consumerId, trialId)).trialEnd).toBeNull();
    // another consumer still gets the trial
    expect((await checkout(await newConsumer('other trial co'), trialId)).status).toBe('trialing');
  });
});

describe('plan change audit', () => {
  it('the audit row commits with the change: when it cannot be written, the change is not made', async () => {
    clock = new Date('2026-08-01T00:00:00Z');
    const localConsumer = await newConsumer('audit local co');
    const localSub = await checkout(localConsumer, freeId);
    const paidConsumer = await newConsumer('audit paid co');
    const paidSub = await checkout(paidConsumer, proId);
    // an audit log that refuses plan-change rows (as a full disk or a revoked grant would)
    await h.db.prisma.$executeRawUnsafe(`
      CREATE FUNCTION refuse_plan_change_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.action = 'billing.subscription.plan_changed' THEN RAISE EXCEPTION 'audit_log unavailable'; END IF;
        RETURN NEW;
      END $$`);
    await h.db.prisma.$executeRawUnsafe(
      'CREATE TRIGGER refuse_plan_change_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_plan_change_audit()',
    );
    try {
      const before = await h.db.prisma.subscription.findMany({
        where: { consumerId: { in: [localConsumer, paidConsumer] } },
        orderBy: { id: 'asc' },
      });
      expect((await change(localConsumer, liteId)).statusCode).toBe(500);
      expect((await change(paidConsumer, freeId)).statusCode).toBe(500);
      const after = await h.db.prisma.subscription.findMany({
        where: { consumerId: { in: [localConsumer, paidConsumer] } },
        orderBy: { id: 'asc' },
      });
      expect(after).toEqual(before);
      expect(after.find((s) => s.id === localSub.id)?.planId).toBe(freeId);
      expect(after.find((s) => s.id === paidSub.id)?.status).toBe('active');
    } finally {
      await h.db.prisma.$executeRawUnsafe('DROP TRIGGER refuse_plan_change_audit ON audit_log');
      await h.db.prisma.$executeRawUnsafe('DROP FUNCTION refuse_plan_change_audit()');
    }
    // with the audit log back, the change and its row commit together, with the caller's actor
    const res = await app.inject({
      method: 'POST',
      url: '/v1/subscriptions/change',
      headers: auth,
      payload: {
        consumerId: localConsumer,
        planId: liteId,
        actor: { kind: 'user:admin@example.test', id: 'admin-1', ip: '192.0.2.7' },
      },
    });
    expect(res.statusCode).toBe(200);
    const rows = await h.db.prisma.auditLog.findMany({
      where: { action: 'billing.subscription.plan_changed', targetId: localSub.id },
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actorKind: 'user:admin@example.test',
      actorId: 'admin-1',
      ip: '192.0.2.7',
    });
  });

  it('same plan is 409 and no live subscription is 404', async () => {
    clock = new Date('2026-09-01T00:00:00Z');
    const consumerId = await newConsumer('codes co');
    const none = await change(consumerId, freeId);
    expect([none.statusCode, none.json().code]).toEqual([404, 'NO_SUBSCRIPTION']);
    await checkout(consumerId, freeId);
    const same = await change(consumerId, freeId);
    expect([same.statusCode, same.json().code]).toEqual([409, 'SAME_PLAN']);
  });
});
