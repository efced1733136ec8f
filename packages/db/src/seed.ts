import { createHash } from 'node:crypto';
import { describeApiKey, generateApiKey, periodContaining } from '@tollgate/core';
import type { PrismaClient, UserRole } from './generated/prisma/client.ts';
import { hashPassword } from './password.ts';

/**
 * Demo data for local runs and end-to-end tests: the Echo API with three plans, three portal
 * users and a consumer on the Free plan with one API key. Idempotent: objects are found by
 * their natural keys (email, slug, names) and created only when missing, so running it again
 * changes no counts. Demo values (plan prices, limits, routes) are reset to the ones below.
 */
export const DEMO = {
  password: 'tollgate-demo',
  users: [
    { email: 'admin@tollgate.local', name: 'Demo Admin', role: 'admin' },
    { email: 'finance@tollgate.local', name: 'Demo Finance', role: 'finance' },
    { email: 'dev@tollgate.local', name: 'Demo Developer', role: 'developer' },
  ] as const satisfies readonly { email: string; name: string; role: UserRole }[],
  developerEmail: 'dev@tollgate.local',
  consumerName: 'Demo Co',
  apiSlug: 'echo',
  /** The demo upstream that `npm run dev` starts (apps/demo-upstream). */
  upstreamUrl: 'http://127.0.0.1:4010',
  apiKeyName: 'Demo key',
} as const;

/**
 * The demo API key, the same on every machine and every run: derived from a fixed seed
 * through generateApiKey's random source, so docs can print a copy-paste curl. It is a `test`
 * key for a local demo database; never seed it into a real deployment.
 */
export const DEMO_API_KEY = generateApiKey('test', (n) =>
  createHash('sha256').update('tollgate demo api key v1').digest().subarray(0, n),
).key;

const ROUTES: {
  name: string;
  methods: string[];
  path: string;
  cost: number;
  public: boolean;
  pathMatch: 'prefix' | 'exact';
}[] = [
  { name: 'Echo GET', methods: ['GET'], path: '/', cost: 1, public: false, pathMatch: 'prefix' },
  { name: 'Echo POST', methods: ['POST'], path: '/', cost: 1, public: false, pathMatch: 'prefix' },
  { name: 'Heavy', methods: [], path: '/heavy', cost: 5, public: false, pathMatch: 'prefix' },
  // Public, for its own path only: no credential, so nothing to count it against.
  { name: 'Health', methods: ['GET'], path: '/health', cost: 0, public: true, pathMatch: 'exact' },
];

const PLANS = [
  {
    slug: 'free',
    name: 'Free',
    description: '1,000 requests a month to try the API.',
    quota: 1_000,
    priceCents: 0,
    capMode: 'hard',
    overageUnitPriceDecimal: null,
    overageCeiling: null,
    rateLimitPerSecond: 5,
    burst: 10,
  },
  {
    slug: 'starter',
    name: 'Starter',
    description: '50,000 requests a month.',
    quota: 50_000,
    priceCents: 4_900,
    capMode: 'hard',
    overageUnitPriceDecimal: null,
    overageCeiling: null,
    rateLimitPerSecond: 20,
    burst: 40,
  },
  {
    slug: 'pro',
    name: 'Pro',
    description: '500,000 requests a month, then $0.0005 a request up to 1,000,000 more.',
    quota: 500_000,
    priceCents: 19_900,
    capMode: 'soft',
    overageUnitPriceDecimal: '0.05',
    overageCeiling: 1_000_000,
    rateLimitPerSecond: 100,
    burst: 200,
  },
] as const;

export interface SeedResult {
  /** The demo consumer's API key (always DEMO_API_KEY). */
  apiKey: string;
  apiId: string;
  consumerId: string;
  subscriptionId: string;
  planIds: Record<(typeof PLANS)[number]['slug'], string>;
  userIds: Record<string, string>;
  /** What this run created, e.g. `user dev@tollgate.local`; empty when everything existed. */
  created: string[];
}

export async function seedDemoData(prisma: PrismaClient, now: Date = new Date()): Promise<SeedResult> {
  const created: string[] = [];

  const userIds: Record<string, string> = {};
  for (const u of DEMO.users) {
    const existing = await prisma.user.findUnique({ where: { email: u.email } });
    if (existing === null) {
      const user = await prisma.user.create({
        data: { email: u.email, name: u.name, role: u.role, passwordHash: await hashPassword(DEMO.password) },
      });
      userIds[u.email] = user.id;
      created.push(`user ${u.email}`);
    } else {
      // The password is left alone: someone may have changed it on purpose.
      await prisma.user.update({ where: { id: existing.id }, data: { name: u.name, role: u.role } });
      userIds[u.email] = existing.id;
    }
  }

  const apiFields = {
    name: 'Echo API',
    description: 'Echoes the request back. The demo API every plan includes.',
    basePath: '/echo',
    stripBasePath: true,
  };
  let api = await prisma.api.findUnique({ where: { slug: DEMO.apiSlug } });
  if (api === null) {
    api = await prisma.api.create({ data: { slug: DEMO.apiSlug, ...apiFields } });
    created.push(`api ${DEMO.apiSlug}`);
  } else {
    api = await prisma.api.update({ where: { id: api.id }, data: apiFields });
  }

  const target = await prisma.upstreamTarget.findFirst({ where: { apiId: api.id, url: DEMO.upstreamUrl } });
  if (target === null) {
    await prisma.upstreamTarget.create({
      data: { apiId: api.id, url: DEMO.upstreamUrl, healthCheckPath: '/health' },
    });
    created.push(`upstream ${DEMO.upstreamUrl}`);
  }

  for (const route of ROUTES) {
    const existing = await prisma.route.findFirst({ where: { apiId: api.id, name: route.name } });
    if (existing === null) {
      await prisma.route.create({ data: { apiId: api.id, ...route } });
      created.push(`route ${route.name}`);
    } else {
      await prisma.route.update({ where: { id: existing.id }, data: route });
    }
  }

  const planIds = {} as SeedResult['planIds'];
  for (const { slug, ...fields } of PLANS) {
    const data = { ...fields, quotaPeriod: 'month', limitScope: 'consumer', currency: 'usd' } as const;
    const existing = await prisma.plan.findUnique({ where: { slug } });
    const plan =
      existing === null
        ? await prisma.plan.create({ data: { slug, ...data } })
        : await prisma.plan.update({ where: { id: existing.id }, data });
    if (existing === null) created.push(`plan ${slug}`);
    planIds[slug] = plan.id;
    // routeId null means every route; the unique index treats NULLs as distinct, so look first.
    const entitled = await prisma.planEntitlement.findFirst({
      where: { planId: plan.id, apiId: api.id, routeId: null },
    });
    if (entitled === null) {
      await prisma.planEntitlement.create({ data: { planId: plan.id, apiId: api.id } });
      created.push(`entitlement ${slug} -> ${DEMO.apiSlug}`);
    }
  }

  const developerId = userIds[DEMO.developerEmail]!;
  let consumer = await prisma.consumer.findFirst({
    where: { name: DEMO.consumerName, members: { some: { userId: developerId } } },
  });
  if (consumer === null) {
    consumer = await prisma.consumer.create({
      data: { name: DEMO.consumerName, members: { create: { userId: developerId, role: 'owner' } } },
    });
    created.push(`consumer ${DEMO.consumerName}`);
  }

  let subscription = await prisma.subscription.findFirst({
    where: { consumerId: consumer.id, status: { in: ['active', 'trialing'] } },
  });
  if (subscription === null) {
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const period = periodContaining(monthStart, 'month', now);
    subscription = await prisma.subscription.create({
      data: {
        consumerId: consumer.id,
        planId: planIds.free,
        status: 'active',
        currentPeriodStart: period.start,
        currentPeriodEnd: period.end,
      },
    });
    created.push(`subscription ${DEMO.consumerName} -> free`);
  }

  const key = describeApiKey(DEMO_API_KEY);
  const existingKey = await prisma.apiKey.findUnique({ where: { hash: key.hash } });
  if (existingKey === null) {
    await prisma.apiKey.create({
      data: {
        consumerId: consumer.id,
        name: DEMO.apiKeyName,
        prefix: key.prefix,
        hash: key.hash,
        lastFour: key.lastFour,
      },
    });
    created.push(`api key ${key.prefix}…${key.lastFour}`);
  }

  return {
    apiKey: key.key,
    apiId: api.id,
    consumerId: consumer.id,
    subscriptionId: subscription.id,
    planIds,
    userIds,
    created,
  };
}
