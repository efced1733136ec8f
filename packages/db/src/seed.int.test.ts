import { hashApiKey, parseApiKey } from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from './password.ts';
import { DEMO, DEMO_API_KEY, seedDemoData } from './seed.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

describe('demo seed', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  const counts = async () => {
    const p = db.prisma;
    return {
      users: await p.user.count(),
      members: await p.consumerMember.count(),
      consumers: await p.consumer.count(),
      apiKeys: await p.apiKey.count(),
      apis: await p.api.count(),
      targets: await p.upstreamTarget.count(),
      routes: await p.route.count(),
      plans: await p.plan.count(),
      entitlements: await p.planEntitlement.count(),
      subscriptions: await p.subscription.count(),
    };
  };

  it('seeding twice is idempotent: the second run creates nothing and changes no counts', async () => {
    const first = await seedDemoData(db.prisma);
    const after1 = await counts();
    expect(after1).toEqual({
      users: 3,
      members: 1,
      consumers: 1,
      apiKeys: 1,
      apis: 1,
      targets: 1,
      routes: 4,
      plans: 3,
      entitlements: 3,
      subscriptions: 1,
    });
    const second = await seedDemoData(db.prisma);
    expect(second.created).toEqual([]);
    expect(await counts()).toEqual(after1);
    expect(second).toEqual({ ...first, created: [] });
  });

  it('the demo key is stable, well-formed and stored only as its hash', async () => {
    const { apiKey } = await seedDemoData(db.prisma);
    expect(apiKey).toBe(DEMO_API_KEY);
    expect(parseApiKey(apiKey)).toMatchObject({ ok: true, env: 'test' });
    const stored = await db.prisma.apiKey.findUniqueOrThrow({ where: { hash: hashApiKey(apiKey) } });
    expect(JSON.stringify(stored)).not.toContain(apiKey);
  });

  it('the demo data matches the product brief', async () => {
    const p = db.prisma;
    const plans = await p.plan.findMany({ orderBy: { priceCents: 'asc' } });
    expect(
      plans.map((pl) => [pl.slug, pl.priceCents, pl.quota, pl.capMode, pl.rateLimitPerSecond, pl.burst]),
    ).toEqual([
      ['free', 0, 1_000, 'hard', 5, 10],
      ['starter', 4_900, 50_000, 'hard', 20, 40],
      ['pro', 19_900, 500_000, 'soft', 100, 200],
    ]);
    expect(plans[2]).toMatchObject({ overageUnitPriceDecimal: '0.05', overageCeiling: 1_000_000 });

    const api = await p.api.findUniqueOrThrow({
      where: { slug: 'echo' },
      include: { routes: true, targets: true, entitlements: true },
    });
    expect(api.basePath).toBe('/echo');
    expect(api.targets.map((t) => t.url)).toEqual([DEMO.upstreamUrl]);
    expect(api.entitlements).toHaveLength(3);
    const routes = Object.fromEntries(
      api.routes.map((r) => [r.name, [r.methods.join(','), r.path, r.cost, r.public]]),
    );
    expect(routes).toEqual({
      'Echo GET': ['GET', '/', 1, false],
      'Echo POST': ['POST', '/', 1, false],
      Heavy: ['', '/heavy', 5, false],
      Health: ['GET', '/health', 0, true],
    });

    const dev = await p.user.findUniqueOrThrow({
      where: { email: 'dev@tollgate.local' },
      include: {
        memberships: { include: { consumer: { include: { subscriptions: { include: { plan: true } } } } } },
      },
    });
    expect(await verifyPassword(DEMO.password, dev.passwordHash)).toBe(true);
    const consumer = dev.memberships[0]!.consumer;
    expect(consumer.name).toBe('Demo Co');
    const sub = consumer.subscriptions[0]!;
    expect(sub).toMatchObject({ status: 'active', plan: { slug: 'free' } });
    const now = Date.now();
    expect(sub.currentPeriodStart.getTime()).toBeLessThanOrEqual(now);
    expect(sub.currentPeriodEnd.getTime()).toBeGreaterThan(now);
    expect(sub.currentPeriodStart.getUTCDate()).toBe(1);

    const roles = await p.user.findMany({ orderBy: { email: 'asc' }, select: { email: true, role: true } });
    expect(roles).toEqual([
      { email: 'admin@tollgate.local', role: 'admin' },
      { email: 'dev@tollgate.local', role: 'developer' },
      { email: 'finance@tollgate.local', role: 'finance' },
    ]);
  });
});
