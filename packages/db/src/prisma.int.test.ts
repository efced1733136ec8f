import { generateApiKey } from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './testing.ts';

describe('prisma through the pg driver adapter', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('a consumer created with a key and a subscription reads back with database defaults filled in', async () => {
    const { prisma } = db;
    const plan = await prisma.plan.create({
      data: { slug: 'basic', name: 'Basic', quota: 100, priceCents: 900 },
    });
    const key = generateApiKey('test');
    const created = await prisma.consumer.create({
      data: {
        name: 'Acme',
        apiKeys: { create: { name: 'ci', prefix: key.prefix, hash: key.hash, lastFour: key.lastFour } },
        subscriptions: {
          create: {
            planId: plan.id,
            currentPeriodStart: new Date('2026-11-01T00:00:00.000Z'),
            currentPeriodEnd: new Date('2026-12-01T00:00:00.000Z'),
          },
        },
      },
    });
    expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const read = await prisma.consumer.findUniqueOrThrow({
      where: { id: created.id },
      include: { apiKeys: true, subscriptions: { include: { plan: true } } },
    });
    expect(read.status).toBe('active');
    expect(read.apiKeys).toHaveLength(1);
    expect(read.apiKeys[0]).toMatchObject({
      hash: key.hash,
      prefix: key.prefix,
      scopes: [],
      revokedAt: null,
    });
    expect(read.subscriptions[0]).toMatchObject({
      status: 'active',
      cancelAtPeriodEnd: false,
      currentPeriodEnd: new Date('2026-12-01T00:00:00.000Z'),
      plan: { slug: 'basic', quotaPeriod: 'month', capMode: 'hard', currency: 'usd' },
    });

    // The lookup the gateway does: by key hash.
    const byHash = await prisma.apiKey.findUnique({ where: { hash: key.hash }, include: { consumer: true } });
    expect(byHash?.consumer.name).toBe('Acme');
  });

  it('the key hash is unique and a plan with subscribers cannot be deleted', async () => {
    const { prisma } = db;
    const consumer = await prisma.consumer.findFirstOrThrow({
      where: { name: 'Acme' },
      include: { apiKeys: true },
    });
    const existing = consumer.apiKeys[0]!;
    await expect(
      prisma.apiKey.create({
        data: {
          consumerId: consumer.id,
          name: 'dup',
          prefix: existing.prefix,
          hash: existing.hash,
          lastFour: 'xxxx',
        },
      }),
    ).rejects.toMatchObject({ code: 'P2002' });
    await expect(prisma.plan.delete({ where: { slug: 'basic' } })).rejects.toThrow();
    // Deleting the consumer cascades to its keys and subscriptions.
    await prisma.consumer.delete({ where: { id: consumer.id } });
    expect(await prisma.apiKey.count()).toBe(0);
    expect(await prisma.subscription.count()).toBe(0);
  });
});
