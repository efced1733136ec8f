import { randomUUID } from 'node:crypto';
import { sqlString } from '@tollgate/clickhouse';
import { createStripe } from '@tollgate/stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../src/reconciliation/reconcile.ts';
import { KeyedSerializer, TokenBucket } from '../src/usage/rate-limiter.ts';
import { reportUsage } from '../src/usage/report-usage.ts';
import { type SenderState, sendMeterReports } from '../src/usage/send-meter-reports.ts';
import { FakeStripe } from './fake-stripe.ts';
import { chTime, createHarness, createPlan, type Harness } from './helpers.ts';

/**
 * Usage → Stripe meter events against our stateful fake Stripe with 20 % 429, 10 % 500 and
 * 5 % processed-but-response-lost, on real Postgres and real ClickHouse.
 */
const HOUR = 3_600_000;
const now = new Date(Math.floor(Date.now() / 60_000) * 60_000);

interface Sub {
  id: string;
  consumerId: string;
  customer: string;
  createdAt: Date;
}

let fake: FakeStripe;
let fakeBase: string;
let h: Harness;
let subA: Sub;
let subB: Sub;
let subOld: Sub;
let sender: SenderState;
/** Windows close 10 minutes after they end; windows are aligned to each period start. */
const offsetMs = 1_234_000;
const periodStart = new Date(Math.floor((now.getTime() - 50 * HOUR) / HOUR) * HOUR + offsetMs);
const closedThrough = new Date(Math.floor((now.getTime() - 600_000 - offsetMs) / HOUR) * HOUR + offsetMs);

let seed = 7;
const rand = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};

async function insertEvents(
  rows: {
    eventId: string;
    time: Date;
    consumerId: string;
    subscriptionId: string;
    units: number;
    billable: number;
  }[],
) {
  await h.clickhouse.insert({
    table: 'usage_events_v1',
    format: 'JSONEachRow',
    values: rows.map((r, i) => ({
      event_id: r.eventId,
      time: chTime(r.time),
      time_ms: 0,
      source: 'gateway',
      consumer_id: r.consumerId,
      key_id: '',
      plan_id: '',
      subscription_id: r.subscriptionId,
      api_id: '',
      route_id: '',
      method: 'GET',
      status: 200,
      bytes_in: 0,
      bytes_out: 0,
      latency_ms: 1,
      units: r.units,
      billable: r.billable,
      ingested_at: chTime(new Date(now.getTime() + i * 1000)),
    })),
  });
}

/** Independent statement of the contract: the consumer's billable events of this subscription, or
 * without a subscription id from the subscription's creation on. */
async function chTotal(sub: Sub, to: Date): Promise<number> {
  const created = Math.floor(sub.createdAt.getTime() / 1000);
  const rs = await h.clickhouse.query({
    query: `SELECT sum(units) AS u FROM usage_events_v1 FINAL WHERE billable = 1
      AND consumer_id = ${sqlString(sub.consumerId)}
      AND (subscription_id = ${sqlString(sub.id)} OR (subscription_id = '' AND time >= toDateTime(${created})))
      AND time < toDateTime(${Math.floor(to.getTime() / 1000)})`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ u: string | number }>();
  return Number(row?.u ?? 0);
}

const fakeSum = (customer: string) =>
  [...fake.meterEvents.values()].filter((e) => e.customer === customer).reduce((s, e) => s + e.value, 0);

async function runUntilDrained(maxRuns = 40) {
  for (let i = 0; i < maxRuns; i++) {
    await reportUsage(h.deps);
    await sendMeterReports(h.deps, sender);
    const pending = await h.db.prisma.meterReport.count({ where: { status: 'pending' } });
    if (pending === 0) return i + 1;
  }
  throw new Error('meter reports still pending');
}

async function makeSub(slug: string, customer: string, created: Date, start: Date): Promise<Sub> {
  const plan = await createPlan(h.db.prisma, {
    slug,
    capMode: 'soft',
    quota: 100,
    priceCents: 1000,
    overageUnitPriceDecimal: '0.5',
    stripeMeterId: 'mtr_fake',
  });
  const consumer = await h.db.prisma.consumer.create({ data: { name: slug, stripeCustomerId: customer } });
  const sub = await h.db.prisma.subscription.create({
    data: {
      consumerId: consumer.id,
      planId: plan.id,
      status: 'active',
      createdAt: created,
      currentPeriodStart: start,
      currentPeriodEnd: new Date(start.getTime() + 30 * 24 * HOUR),
      stripeCustomerId: customer,
      stripeSubscriptionId: `sub_${slug}`,
    },
  });
  return { id: sub.id, consumerId: consumer.id, customer, createdAt: created };
}

beforeAll(async () => {
  fake = new FakeStripe(20_261_121);
  fakeBase = await fake.start();
  h = await createHarness({
    stripeApiBase: fakeBase,
    now: () => now,
    env: { BILLING_STRIPE_MAX_ATTEMPTS: '4' },
  });
  sender = {
    bucket: new TokenBucket(5000),
    serializer: new KeyedSerializer(),
    sleep: () => Promise.resolve(),
  };
  // created mid-window: the window starts before the subscription does
  subA = await makeSub('a', 'cus_A', new Date(periodStart.getTime() - HOUR / 2), periodStart);
  subB = await makeSub('b', 'cus_B', new Date(periodStart.getTime() - HOUR), periodStart);
  subOld = await makeSub(
    'old',
    'cus_OLD',
    new Date(now.getTime() - 40 * 24 * HOUR),
    new Date(now.getTime() - 40 * 24 * HOUR + offsetMs),
  );

  const rows: Parameters<typeof insertEvents>[0] = [];
  for (const sub of [subA, subB]) {
    for (let t = periodStart.getTime(); t < now.getTime(); t += 60_000 * (1 + Math.floor(rand() * 20))) {
      const row = {
        eventId: randomUUID(),
        time: new Date(t),
        consumerId: sub.consumerId,
        subscriptionId: sub.id,
        units: 1 + Math.floor(rand() * 3),
        billable: rand() < 0.1 ? 0 : 1,
      };
      rows.push(row);
      // at-least-once delivery: some events stored twice (same id and time)
      if (rand() < 0.15) rows.push({ ...row });
    }
  }
  // events without a subscription id count from the subscription's creation on, not before
  rows.push({
    eventId: randomUUID(),
    time: new Date(periodStart.getTime() + 2 * HOUR),
    consumerId: subA.consumerId,
    subscriptionId: '',
    units: 11,
    billable: 1,
  });
  rows.push({
    eventId: randomUUID(),
    time: new Date(subA.createdAt.getTime() - 60_000),
    consumerId: subA.consumerId,
    subscriptionId: '',
    units: 13,
    billable: 1,
  });
  // another subscription of the same consumer must not leak into A's totals
  rows.push({
    eventId: randomUUID(),
    time: new Date(periodStart.getTime() + HOUR),
    consumerId: subA.consumerId,
    subscriptionId: randomUUID(),
    units: 50,
    billable: 1,
  });
  // usage older than Stripe's 35 days and some recent usage on the old subscription
  rows.push({
    eventId: randomUUID(),
    time: new Date(now.getTime() - 38 * 24 * HOUR),
    consumerId: subOld.consumerId,
    subscriptionId: subOld.id,
    units: 9,
    billable: 1,
  });
  rows.push({
    eventId: randomUUID(),
    time: new Date(now.getTime() - 5 * 24 * HOUR),
    consumerId: subOld.consumerId,
    subscriptionId: subOld.id,
    units: 4,
    billable: 1,
  });
  await insertEvents(rows);
  fake.faults = { rate429: 0.2, rate500: 0.1, lostResponse: 0.05 };
  fake.meterEventDelayMs = 2;
});

afterAll(async () => {
  await h?.close();
  await fake?.stop();
});

describe('usage to Stripe under injected faults', () => {
  it('records every window exactly once per identifier and reports exactly the ClickHouse total', async () => {
    await runUntilDrained();
    const ledger = await h.db.prisma.meterReport.findMany();
    const sent = ledger.filter((r) => r.status === 'sent');
    // identifiers are unique in Stripe and each ledger row is one Stripe event
    expect(fake.meterEvents.size).toBe(sent.length);
    for (const row of sent) {
      expect(fake.meterEvents.get(row.identifier)?.value).toBe(Number(row.value));
      expect(row.identifier.startsWith(`${row.subscriptionId}:`)).toBe(true);
    }
    for (const sub of [subA, subB]) {
      const total = await chTotal(sub, closedThrough);
      expect(total).toBeGreaterThan(0);
      expect(fakeSum(sub.customer)).toBe(total);
    }
    // faults really happened, and lost responses were recovered through identifier dedup
    expect(fake.faultsInjected.rate429).toBeGreaterThan(0);
    expect(fake.faultsInjected.rate500).toBeGreaterThan(0);
    expect(fake.faultsInjected.lostResponse).toBeGreaterThan(0);
    expect(fake.duplicateRejections).toBeGreaterThanOrEqual(fake.faultsInjected.lostResponse);
    // never two calls in flight for one customer and meter
    expect(fake.maxInFlightPerCustomer).toBe(1);
    // the open window (and anything after the lateness allowance) is not reported yet
    for (const row of ledger) expect(row.windowEnd.getTime()).toBeLessThanOrEqual(closedThrough.getTime());
    const watermark = await h.db.prisma.billingWatermark.findUnique({
      where: { subscriptionId_meter: { subscriptionId: subA.id, meter: 'tollgate_api_units' } },
    });
    expect(watermark?.reportedThrough.toISOString()).toBe(closedThrough.toISOString());
  });

  it('usage older than 35 days is dead-lettered with an alert, never dropped silently', async () => {
    const dead = await h.db.prisma.meterReport.findMany({ where: { status: 'dead_letter' } });
    expect(dead).toHaveLength(1);
    expect(dead[0]?.subscriptionId).toBe(subOld.id);
    expect(Number(dead[0]?.value)).toBe(9);
    expect(fake.meterEvents.has(dead[0]!.identifier)).toBe(false);
    const alert = await h.db.prisma.auditLog.findFirst({
      where: { action: 'billing.usage.dead_letter', targetId: dead[0]!.identifier },
    });
    expect(alert).not.toBeNull();
    expect(h.deps.metrics.get('tollgate_billing_meter_events_dead_letter_total', { reason: 'too_old' })).toBe(
      1,
    );
    // the recent usage of the same subscription was still reported
    expect(fakeSum('cus_OLD')).toBe(4);
  });

  it('running again with nothing new sends nothing', async () => {
    const before = fake.meterEventRequests;
    await reportUsage(h.deps);
    await sendMeterReports(h.deps, sender);
    expect(fake.meterEventRequests).toBe(before);
  });

  it('late events in an already reported window are trued up as a revision so totals still match', async () => {
    const window = await h.db.prisma.meterReport.findFirstOrThrow({
      where: { subscriptionId: subA.id, status: 'sent' },
      orderBy: { windowStart: 'asc' },
    });
    const at = new Date(window.windowStart.getTime() + 5 * 60_000);
    await insertEvents([
      {
        eventId: randomUUID(),
        time: at,
        consumerId: subA.consumerId,
        subscriptionId: subA.id,
        units: 7,
        billable: 1,
      },
      {
        eventId: randomUUID(),
        time: at,
        consumerId: subA.consumerId,
        subscriptionId: subA.id,
        units: 3,
        billable: 1,
      },
    ]);
    await runUntilDrained();
    const revision = await h.db.prisma.meterReport.findUnique({
      where: { identifier: `${window.identifier}:r1` },
    });
    expect(revision?.status).toBe('sent');
    expect(Number(revision?.value)).toBe(10);
    expect(fake.meterEvents.get(`${window.identifier}:r1`)?.value).toBe(10);
    expect(fakeSum(subA.customer)).toBe(await chTotal(subA, closedThrough));
  });

  it('a request that times out is retried, and a window is still recorded once', async () => {
    const window = await h.db.prisma.meterReport.findFirstOrThrow({
      where: { subscriptionId: subB.id, status: 'sent' },
      orderBy: { windowStart: 'desc' },
    });
    await insertEvents([
      {
        eventId: randomUUID(),
        time: new Date(window.windowStart.getTime() + 60_000),
        consumerId: subB.consumerId,
        subscriptionId: subB.id,
        units: 5,
        billable: 1,
      },
    ]);
    fake.faults = { rate429: 0, rate500: 0, lostResponse: 0 };
    fake.hangNext = 2;
    const impatient = {
      ...h.deps,
      stripe: createStripe({ secretKey: 'sk_test_123', apiBase: fakeBase, timeoutMs: 200 }),
    };
    for (let i = 0; i < 20; i++) {
      await reportUsage(impatient);
      await sendMeterReports(impatient, sender);
      if ((await h.db.prisma.meterReport.count({ where: { status: 'pending' } })) === 0) break;
    }
    expect(fake.faultsInjected.hang).toBe(2);
    expect(fake.meterEvents.get(`${window.identifier}:r1`)?.value).toBe(5);
    expect(fakeSum(subB.customer)).toBe(await chTotal(subB, closedThrough));
  });

  it('right after a period rollover, late usage of the previous period is still trued up', async () => {
    // the period rolled over 20 minutes ago: Stripe has not finalized the previous invoice yet
    const rolledAt = new Date(now.getTime() - 20 * 60_000);
    const sub = await makeSub('rollover', 'cus_ROLL', new Date(now.getTime() - 3 * 24 * HOUR), rolledAt);
    const previous = new Date(rolledAt.getTime() - 2 * HOUR + 60_000);
    await insertEvents([
      {
        eventId: randomUUID(),
        time: previous,
        consumerId: sub.consumerId,
        subscriptionId: sub.id,
        units: 3,
        billable: 1,
      },
    ]);
    await runUntilDrained();
    expect(fakeSum('cus_ROLL')).toBe(3);
    await insertEvents([
      {
        eventId: randomUUID(),
        time: previous,
        consumerId: sub.consumerId,
        subscriptionId: sub.id,
        units: 4,
        billable: 1,
      },
    ]);
    await runUntilDrained();
    expect(fakeSum('cus_ROLL')).toBe(7);
    const rows = await h.db.prisma.meterReport.findMany({
      where: { subscriptionId: sub.id },
      orderBy: { createdAt: 'asc' },
    });
    expect(rows.map((r) => [r.identifier.endsWith(':r1'), Number(r.value), r.status])).toEqual([
      [false, 3, 'sent'],
      [true, 4, 'sent'],
    ]);
  });

  it("a subscription that continues the consumer's period carries the units it already used, up to its quota", async () => {
    // A consumer downgraded and checked out again: the new subscription (created 2 h ago)
    // continues the period that started 10 h ago, so Stripe's free tier must count what the
    // period already used on the consumer's previous subscription.
    const created = new Date(now.getTime() - 2 * HOUR);
    const sub = await makeSub('carry', 'cus_CARRY', created, created);
    await h.db.prisma.subscription.update({
      where: { id: sub.id },
      // the consumer's anchor, kept: its period started 10 h ago
      data: {
        billingAnchor: new Date(now.getTime() - 10 * HOUR),
        carryFrom: new Date(now.getTime() - 10 * HOUR),
      },
    });
    const before = (units: number, at: number, subscriptionId: string, billable = 1) => ({
      eventId: randomUUID(),
      time: new Date(now.getTime() - at * HOUR),
      consumerId: sub.consumerId,
      subscriptionId,
      units,
      billable,
    });
    const previous = randomUUID();
    await insertEvents([
      before(30, 5, previous),
      before(40, 3, ''),
      before(50, 4, previous, 0), // not billable: not counted
      before(60, 11, previous), // before the period: not counted
    ]);
    await runUntilDrained();
    const carry = fake.meterEvents.get(`${sub.id}:carry`);
    expect(carry?.value).toBe(70);
    expect(carry?.timestamp).toBe(Math.floor(created.getTime() / 1000));
    expect(fakeSum('cus_CARRY')).toBe(70);
    // late events of the carried range are a revision; the carry stops at the plan's quota (100)
    await insertEvents([before(45, 6, previous)]);
    await runUntilDrained();
    expect(fake.meterEvents.get(`${sub.id}:carry:r1`)?.value).toBe(30);
    await insertEvents([before(5, 7, previous)]);
    await runUntilDrained();
    expect(fakeSum('cus_CARRY')).toBe(100);
    expect(
      await h.db.prisma.meterReport.count({ where: { subscriptionId: sub.id, kind: 'carry_over' } }),
    ).toBe(2);
    // reconciliation lists the carried units apart: they are not drift of this subscription
    const rows = await reconcile(h.deps, new Date(now.getTime() - 12 * HOUR), new Date(now.getTime() + HOUR));
    const row = rows.find((r) => r.subscriptionId === sub.id);
    expect(row?.stripe.carriedUnits).toBe(100);
    expect(row?.drift.clickhouseVsStripe).toBe(0);
  });
});
