import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildService, freePorts, startApp } from '../../../../../e2e/support/app-process.ts';
import { sharedStackEnv } from '../../../../../infra/testing/stack.ts';
import { POST as changeConsumerPlanRoute } from '../../app/admin/v1/consumers/[id]/plan/route.ts';
import type { Actor } from '../actor.ts';
import { sha256Hex } from '../crypto.ts';
import { deps } from '../deps.ts';
import { isTollgateError, toActionError } from '../errors.ts';
import { changePlan } from './change-plan.ts';

/**
 * Errors keep their kind across the portal → billing hop, against a real billing process (and
 * stripe-mock) on a fresh database: billing's 409 SAME_PLAN and 404 NO_SUBSCRIPTION are 409 and
 * 404 in the portal's use cases, its REST API and the message its UI shows; only an unreachable
 * billing is 503. A plan change made through the portal is audited once, by billing, with the
 * portal's actor.
 */
const stack = sharedStackEnv();
let db: TestDatabase;
let billing: ChildService | undefined;
let freeId: string;
let liteId: string;
let adminToken: string;
let subscribed: { actor: Actor; consumerId: string };
let unsubscribed: { actor: Actor; consumerId: string };

async function developer(name: string, planId: string | null) {
  const consumer = await db.prisma.consumer.create({ data: { name } });
  if (planId !== null)
    await db.prisma.subscription.create({
      data: {
        consumerId: consumer.id,
        planId,
        status: 'active',
        currentPeriodStart: new Date(),
        currentPeriodEnd: new Date(Date.now() + 30 * 86_400_000),
      },
    });
  const actor: Actor = {
    kind: 'user',
    id: `user-${name}`,
    role: 'developer',
    email: `${name}@example.test`,
    consumerIds: [consumer.id],
    ip: '192.0.2.10',
  };
  return { actor, consumerId: consumer.id };
}

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err: unknown) => (isTollgateError(err) ? `${err.status} ${err.code}` : `unexpected ${String(err)}`),
  );

const restChange = async (consumerId: string, planId: string) => {
  const res = await changeConsumerPlanRoute(
    new Request(`http://portal.test/admin/v1/consumers/${consumerId}/plan`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ planId }),
    }),
    { params: Promise.resolve({ id: consumerId }) },
  );
  const body = (await res.json()) as { code?: string };
  return { status: res.status, contentType: res.headers.get('content-type'), code: body.code };
};

beforeAll(async () => {
  db = await createTestDatabase();
  const [port] = (await freePorts(1)) as [number];
  const url = `http://127.0.0.1:${port}`;
  const token = randomBytes(24).toString('hex');
  billing = await startApp(
    'billing',
    {
      DATABASE_URL: db.url,
      CLICKHOUSE_URL: stack.CLICKHOUSE_URL!,
      CLICKHOUSE_DATABASE: stack.CLICKHOUSE_DATABASE!,
      STRIPE_API_BASE: stack.STRIPE_API_BASE!,
      STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
      BILLING_SERVICE_TOKEN: token,
      BILLING_HOST: '127.0.0.1',
      BILLING_PORT: String(port),
      BILLING_PUBLIC_URL: url,
      BILLING_CATALOG_SYNC_ON_START: 'false',
      BILLING_SCHEDULER_ENABLED: 'false',
    },
    `${url}/healthz`,
  );
  // The portal reads its config on first use: this database and this billing.
  process.env.DATABASE_URL = db.url;
  process.env.BILLING_URL = url;
  process.env.BILLING_SERVICE_TOKEN = token;
  freeId = (await db.prisma.plan.create({ data: { slug: 'free', name: 'Free', quota: 100 } })).id;
  liteId = (await db.prisma.plan.create({ data: { slug: 'lite', name: 'Lite', quota: 200 } })).id;
  subscribed = await developer('subscribed', freeId);
  unsubscribed = await developer('unsubscribed', null);
  adminToken = `tga_${randomBytes(24).toString('base64url')}`;
  await db.prisma.adminToken.create({
    data: { name: 'hop test', tokenHash: sha256Hex(adminToken), prefix: adminToken.slice(0, 10) },
  });
}, 120_000);

afterAll(async () => {
  await billing?.stop();
  await deps().prisma.$disconnect();
  await db?.drop();
});

describe('portal → billing: errors keep their kind', () => {
  it("billing's 409 (same plan) is a 409 in the use case, and the UI shows billing's reason", async () => {
    const err = await changePlan(subscribed.actor, { planId: freeId }).catch((e: unknown) => e);
    expect(isTollgateError(err) && [err.status, err.code, err.kind]).toEqual([409, 'SAME_PLAN', 'conflict']);
    expect(toActionError(err)).toEqual({ ok: false, error: 'Already on this plan.' });
  });

  it("billing's 404 (no live subscription) is a 404", async () => {
    expect(await outcome(changePlan(unsubscribed.actor, { planId: freeId }))).toBe('404 NO_SUBSCRIPTION');
  });

  it('the admin REST API answers 409 and 404 as problem+json, not 503', async () => {
    const same = await restChange(subscribed.consumerId, freeId);
    expect([same.status, same.code, same.contentType]).toEqual([
      409,
      'SAME_PLAN',
      'application/problem+json',
    ]);
    const paidId = (
      await db.prisma.plan.create({ data: { slug: 'paid', name: 'Paid', quota: 300, priceCents: 900 } })
    ).id;
    const paid = await restChange(unsubscribed.consumerId, paidId);
    expect([paid.status, paid.code]).toEqual([409, 'CHECKOUT_REQUIRED']);
  });

  it('the admin REST API starts a consumer with no subscription on a plan that charges nothing', async () => {
    const started = await restChange(unsubscribed.consumerId, liteId);
    expect(started.status).toBe(200);
    const subs = await db.prisma.subscription.findMany({ where: { consumerId: unsubscribed.consumerId } });
    expect(subs.map((s) => [s.planId, s.status, s.stripeSubscriptionId])).toEqual([[liteId, 'active', null]]);
    const audit = await db.prisma.auditLog.findMany({ where: { targetId: subs[0]!.id } });
    expect(audit.map((a) => [a.action, a.actorKind])).toEqual([
      ['billing.subscription.activated_free', 'admin_token'],
    ]);
    const again = await restChange(unsubscribed.consumerId, liteId);
    expect([again.status, again.code]).toEqual([409, 'SAME_PLAN']);
  });

  it('a change through the portal is audited once, by billing, with the portal actor', async () => {
    const res = await restChange(subscribed.consumerId, liteId);
    expect(res.status).toBe(200);
    const rows = await db.prisma.auditLog.findMany({ where: { action: { contains: 'plan' } } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'billing.subscription.plan_changed', actorKind: 'admin_token' });
    expect(await outcome(changePlan(subscribed.actor, { planId: freeId }))).toBe('ok');
    const developerRow = await db.prisma.auditLog.findFirstOrThrow({
      where: { action: 'billing.subscription.plan_changed', actorId: subscribed.actor.id },
    });
    expect(developerRow).toMatchObject({ actorKind: 'user:subscribed@example.test', ip: '192.0.2.10' });
  });

  it('only an unreachable billing is 503 unavailable', async () => {
    await billing?.stop();
    billing = undefined;
    expect(await outcome(changePlan(subscribed.actor, { planId: liteId }))).toBe('503 BILLING_UNAVAILABLE');
    const down = await restChange(subscribed.consumerId, liteId);
    expect([down.status, down.code]).toEqual([503, 'BILLING_UNAVAILABLE']);
  });
});
