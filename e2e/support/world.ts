import { createHash, randomBytes } from 'node:crypto';
import { generateApiKey } from '@tollgate/core';
import { hashPassword, type PrismaClient } from '@tollgate/db';

const sha256 = (v: string) => createHash('sha256').update(v).digest('hex');
// Cheap scrypt parameters for test users (the hash records them; verifyPassword reads them back).
const FAST = { N: 2 ** 14, r: 8, p: 1 };
export const PASSWORD = 'correct horse battery staple';

export type Principal = 'anonymous' | 'devA' | 'devB' | 'admin' | 'finance';

export interface World {
  users: Record<Exclude<Principal, 'anonymous'>, { id: string; email: string; cookie: string }>;
  consumerA: string;
  consumerB: string;
  keyA: { id: string; prefix: string };
  keyB: { id: string; prefix: string };
  apiId: string;
  routeId: string;
  targetId: string;
  publicPlanId: string;
  privatePlanId: string;
  adminToken: string;
  adminTokenId: string;
  revokedAdminToken: string;
}

/** Two developers with their own consumers and keys, an admin, a finance user, an API, two plans, admin tokens. */
export async function seedWorld(prisma: PrismaClient): Promise<World> {
  const api = await prisma.api.create({
    data: { name: 'Echo API', slug: 'echo', basePath: '/echo', description: 'Echoes requests.' },
  });
  const route = await prisma.route.create({
    data: { apiId: api.id, name: 'Echo GET', methods: ['GET'], path: '/', cost: 1 },
  });
  const target = await prisma.upstreamTarget.create({
    data: { apiId: api.id, url: 'http://127.0.0.1:4010' },
  });
  const publicPlan = await prisma.plan.create({
    data: {
      slug: 'free',
      name: 'Free',
      quota: 1000,
      quotaPeriod: 'month',
      priceCents: 0,
      capMode: 'hard',
      visibility: 'public',
    },
  });
  const privatePlan = await prisma.plan.create({
    data: {
      slug: 'vip',
      name: 'VIP',
      quota: 100000,
      priceCents: 99900,
      capMode: 'hard',
      visibility: 'private',
    },
  });
  const now = new Date();
  const periodEnd = new Date(now.getTime() + 30 * 86_400_000);

  const passwordHash = await hashPassword(PASSWORD, FAST);
  const users = {} as World['users'];
  const consumers: Record<string, string> = {};
  for (const [key, role] of [
    ['devA', 'developer'],
    ['devB', 'developer'],
    ['admin', 'admin'],
    ['finance', 'finance'],
  ] as const) {
    const email = `${key.toLowerCase()}-${randomBytes(3).toString('hex')}@example.test`;
    const user = await prisma.user.create({ data: { email, name: key, passwordHash, role } });
    if (role === 'developer') {
      const consumer = await prisma.consumer.create({ data: { name: `Consumer of ${key}` } });
      await prisma.consumerMember.create({ data: { consumerId: consumer.id, userId: user.id } });
      await prisma.subscription.create({
        data: {
          consumerId: consumer.id,
          planId: publicPlan.id,
          currentPeriodStart: now,
          currentPeriodEnd: periodEnd,
        },
      });
      consumers[key] = consumer.id;
    }
    const token = randomBytes(32).toString('base64url');
    await prisma.session.create({
      data: { userId: user.id, tokenHash: sha256(token), expiresAt: new Date(Date.now() + 3_600_000) },
    });
    users[key] = { id: user.id, email, cookie: `tollgate_session=${token}` };
  }
  const keys: Record<string, { id: string; prefix: string }> = {};
  for (const who of ['devA', 'devB']) {
    const k = generateApiKey('live');
    const row = await prisma.apiKey.create({
      data: {
        consumerId: consumers[who]!,
        name: `${who} key`,
        prefix: k.prefix,
        hash: k.hash,
        lastFour: k.lastFour,
      },
    });
    keys[who] = { id: row.id, prefix: k.prefix };
  }
  const adminToken = `tga_${randomBytes(32).toString('base64url')}`;
  const tokenRow = await prisma.adminToken.create({
    data: {
      name: 'test',
      tokenHash: sha256(adminToken),
      prefix: adminToken.slice(0, 10),
      createdById: users.admin.id,
    },
  });
  const revokedAdminToken = `tga_${randomBytes(32).toString('base64url')}`;
  await prisma.adminToken.create({
    data: {
      name: 'revoked',
      tokenHash: sha256(revokedAdminToken),
      prefix: revokedAdminToken.slice(0, 10),
      revokedAt: new Date(),
    },
  });
  return {
    users,
    consumerA: consumers.devA!,
    consumerB: consumers.devB!,
    keyA: keys.devA!,
    keyB: keys.devB!,
    apiId: api.id,
    routeId: route.id,
    targetId: target.id,
    publicPlanId: publicPlan.id,
    privatePlanId: privatePlan.id,
    adminToken,
    adminTokenId: tokenRow.id,
    revokedAdminToken,
  };
}
