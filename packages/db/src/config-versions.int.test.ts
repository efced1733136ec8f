import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configSection,
  currentConfigVersion,
  describeConfigChange,
  getConfigVersion,
  listConfigVersions,
  loadProviderConfig,
  restoreConfigVersion,
} from './config-versions.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

describe('db.config-versions', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = db.prisma;
  });
  afterAll(async () => {
    await db?.drop();
  });

  const createApi = (slug: string, upstream = 'http://127.0.0.1:4010/') =>
    prisma.api.create({
      data: {
        name: slug,
        slug,
        basePath: `/${slug}`,
        routes: { create: [{ name: 'all', path: '/' }] },
        targets: { create: [{ url: upstream, healthCheckPath: '/health' }] },
      },
      include: { routes: true, targets: true },
    });

  it('records one version per committed change, with the whole configuration and who made it', async () => {
    const first = await currentConfigVersion(prisma);
    expect(first).toBeGreaterThanOrEqual(1);
    const api = await prisma.$transaction(async (tx) => {
      await describeConfigChange(tx, { actor: 'test:one' });
      const created = await tx.api.create({ data: { name: 'A', slug: 'a', basePath: '/a' } });
      await tx.route.create({ data: { apiId: created.id, name: 'r1', path: '/x' } });
      await tx.route.create({ data: { apiId: created.id, name: 'r2', path: '/y' } });
      return created;
    });
    expect(await currentConfigVersion(prisma)).toBe(first + 1);
    const version = await getConfigVersion(prisma, first + 1);
    expect(version?.actor).toBe('test:one');
    expect(version?.content).toEqual(await loadProviderConfig(prisma));
    expect(version?.content.apis.find((a) => a.id === api.id)?.routes.map((r) => r.name)).toEqual(
      expect.arrayContaining(['r1', 'r2']),
    );
  });

  it('records nothing for writes that change no configuration (Stripe ids, descriptions, no-op updates)', async () => {
    const plan = await prisma.plan.create({ data: { slug: 'p', name: 'P', quotaPeriod: 'month' } });
    const before = await currentConfigVersion(prisma);
    await prisma.plan.update({ where: { id: plan.id }, data: { stripeProductId: 'prod_1' } });
    await prisma.api.updateMany({ data: { description: 'changed' } });
    await prisma.plan.update({ where: { id: plan.id }, data: { name: 'P' } });
    expect(await currentConfigVersion(prisma)).toBe(before);
  });

  it('concurrent commits: the latest version is the configuration in the tables', async () => {
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        prisma.$transaction(async (tx) => {
          const a = await tx.api.create({ data: { name: `c${i}`, slug: `c${i}`, basePath: `/c${i}` } });
          await tx.route.create({ data: { apiId: a.id, name: 'all', path: '/' } });
        }),
      ),
    );
    const latest = await getConfigVersion(prisma, await currentConfigVersion(prisma));
    expect(latest?.content).toEqual(await loadProviderConfig(prisma));
  });

  it('restores a whole version: the tables equal its content again, one new version, audited', async () => {
    const good = await createApi('svc');
    const plan = await prisma.plan.create({
      data: {
        slug: 'svc-plan',
        name: 'Svc',
        quotaPeriod: 'month',
        entitlements: { create: [{ apiId: good.id }] },
      },
    });
    const goodVersion = await currentConfigVersion(prisma);
    const goodContent = await loadProviderConfig(prisma);
    // Later changes: a target moved, a route renamed, a new API, a plan deleted, a new plan with a subscriber.
    await prisma.upstreamTarget.update({
      where: { id: good.targets[0]!.id },
      data: { url: 'http://127.0.0.1:1/' },
    });
    await prisma.route.update({ where: { id: good.routes[0]!.id }, data: { name: 'renamed', path: '/v2' } });
    await createApi('later');
    await prisma.plan.delete({ where: { id: plan.id } });
    const kept = await prisma.plan.create({ data: { slug: 'kept', name: 'Kept', quotaPeriod: 'month' } });
    const consumer = await prisma.consumer.create({ data: { name: 'C' } });
    await prisma.subscription.create({
      data: {
        consumerId: consumer.id,
        planId: kept.id,
        currentPeriodStart: new Date(),
        currentPeriodEnd: new Date(Date.now() + 86_400_000),
      },
    });
    const badVersion = await currentConfigVersion(prisma);

    const result = await restoreConfigVersion(prisma, {
      version: goodVersion,
      scope: { all: true },
      actor: { kind: 'admin_token', id: 'tok-1' },
      action: 'config.rollback',
    });
    expect(result).toEqual({
      status: 'restored',
      version: badVersion + 1,
      restoredFrom: goodVersion,
      keptPlans: ['kept'],
    });
    const now = await loadProviderConfig(prisma);
    // Everything of the good version is back; the plan with a subscriber stays.
    expect({ ...now, plans: now.plans.filter((p) => p.slug !== 'kept') }).toEqual(goodContent);
    const [newest] = await listConfigVersions(prisma, { limit: 1 });
    expect(newest).toMatchObject({
      version: badVersion + 1,
      restoredFrom: goodVersion,
      actor: 'admin_token:tok-1',
    });
    const audit = await prisma.auditLog.findFirst({
      where: { action: 'config.rollback' },
      orderBy: { id: 'desc' },
    });
    expect(audit).toMatchObject({
      actorKind: 'admin_token',
      actorId: 'tok-1',
      targetId: String(goodVersion),
    });
    // The restored plan kept its id, so entitlements and references stay valid.
    expect(await prisma.plan.findUnique({ where: { id: plan.id } })).not.toBeNull();

    // Restoring the version that is current changes nothing and records nothing.
    const again = await restoreConfigVersion(prisma, {
      version: badVersion + 1,
      scope: { all: true },
      actor: { kind: 'admin_token', id: 'tok-1' },
      action: 'config.rollback',
    });
    expect(again).toEqual({ status: 'unchanged', version: badVersion + 1 });
  });

  it('a scoped restore touches only its APIs, and only while they are unchanged since the version named', async () => {
    const x = await createApi('scope-x');
    const y = await createApi('scope-y');
    const goodVersion = await currentConfigVersion(prisma);
    await prisma.upstreamTarget.update({
      where: { id: x.targets[0]!.id },
      data: { url: 'http://127.0.0.1:2/' },
    });
    const badVersion = await currentConfigVersion(prisma);
    await prisma.upstreamTarget.update({ where: { id: y.targets[0]!.id }, data: { weight: 7 } }); // unrelated change

    const restore = (ifUnchangedSince: number) =>
      restoreConfigVersion(prisma, {
        version: goodVersion,
        scope: { apiIds: [x.id] },
        ifUnchangedSince,
        actor: { kind: 'gateway', id: 'gateway/test' },
        action: 'config.auto_rollback',
      });
    // X changed after goodVersion, so "unchanged since goodVersion" does not hold.
    expect(await restore(goodVersion)).toEqual({ status: 'superseded' });
    const restored = await restore(badVersion);
    expect(restored.status).toBe('restored');
    const now = await loadProviderConfig(prisma);
    expect(now.apis.find((a) => a.id === x.id)?.targets[0]?.url).toBe('http://127.0.0.1:4010/');
    expect(now.apis.find((a) => a.id === y.id)?.targets[0]?.weight).toBe(7);
    // A second gateway detecting the same failure finds it already handled.
    expect(await restore(badVersion)).toEqual({ status: 'superseded' });
    const good = await getConfigVersion(prisma, goodVersion);
    expect(configSection(now, { apiIds: [x.id] })).toEqual(configSection(good!.content, { apiIds: [x.id] }));
  });
});
