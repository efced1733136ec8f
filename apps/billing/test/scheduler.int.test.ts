import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScheduler } from '../src/scheduler.ts';
import { createHarness, createPlan, type Harness, STRIPE_MOCK_BASE } from './helpers.ts';

/** The scheduler's grace job suspends a consumer within seconds of its grace period ending. */
let h: Harness;

beforeAll(async () => {
  h = await createHarness({
    stripeApiBase: STRIPE_MOCK_BASE,
    env: { BILLING_GRACE_CHECK_INTERVAL_SECONDS: '1', BILLING_REPORT_INTERVAL_SECONDS: '1' },
  });
});
afterAll(() => h?.close());

describe('scheduler', () => {
  it('suspends the consumer once the grace period has ended, and not before', async () => {
    const plan = await createPlan(h.db.prisma, { slug: 'starter', priceCents: 4900 });
    const consumer = await h.db.prisma.consumer.create({ data: { name: 'late payer' } });
    const graceUntil = new Date(Date.now() + 1500);
    await h.db.prisma.subscription.create({
      data: {
        consumerId: consumer.id,
        planId: plan.id,
        status: 'past_due',
        graceUntil,
        currentPeriodStart: new Date(Date.now() - 86_400_000),
        currentPeriodEnd: new Date(Date.now() + 29 * 86_400_000),
        stripeSubscriptionId: 'sub_sched',
      },
    });
    const scheduler = startScheduler(h.deps);
    try {
      const deadline = Date.now() + 15_000;
      let status = 'active';
      while (Date.now() < deadline) {
        const c = await h.db.prisma.consumer.findUniqueOrThrow({ where: { id: consumer.id } });
        status = c.status;
        if (status === 'suspended') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe('suspended');
      const audit = await h.db.prisma.auditLog.findFirstOrThrow({
        where: { action: 'billing.consumer.suspended', targetId: consumer.id },
      });
      const suspendedAt = audit.at.getTime();
      expect(suspendedAt).toBeGreaterThanOrEqual(graceUntil.getTime());
      // within the job interval (1 s) plus generous slack for a loaded 2-core machine
      expect(suspendedAt - graceUntil.getTime()).toBeLessThan(8_000);
    } finally {
      await scheduler.stop();
    }
  });
});
