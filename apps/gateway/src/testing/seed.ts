import { generateApiKey, type Plan } from '@tollgate/core';
import type { PrismaClient } from '@tollgate/db';

export interface SeededGateway {
  apiId: string;
  routeId: string;
  publicRouteId: string;
  planId: string;
  consumerId: string;
  subscriptionId: string;
  key: string;
  keyId: string;
}

/** One API `/svc` → upstream, a catch-all route and a public /health route, one plan, one consumer with a key. */
export async function seedGateway(
  prisma: PrismaClient,
  upstreamUrl: string,
  plan: Partial<Omit<Plan, 'id'>> = {},
  slug = 'svc',
): Promise<SeededGateway> {
  const api = await prisma.api.create({
    data: {
      name: `API ${slug}`,
      slug,
      basePath: `/${slug}`,
      upstreamHost: 'upstream.internal',
      targets: { create: [{ url: upstreamUrl }] },
      routes: {
        create: [
          { name: 'all', methods: [], path: '/', cost: 1, timeoutMs: 5000 },
          { name: 'health', methods: ['GET'], path: '/health', cost: 0, public: true, pathMatch: 'exact' },
        ],
      },
    },
    include: { routes: true },
  });
  const route = api.routes.find((r) => r.name === 'all')!;
  const publicRoute = api.routes.find((r) => r.name === 'health')!;
  const p = await prisma.plan.create({
    data: {
      slug: `plan-${slug}`,
      name: `Plan ${slug}`,
      quota: 1000,
      quotaPeriod: 'month',
      capMode: 'hard',
      redisFailurePolicy: 'fail_closed',
      ...plan,
      entitlements: { create: [{ apiId: api.id }] },
    },
  });
  const consumer = await prisma.consumer.create({ data: { name: `Consumer ${slug}` } });
  const now = new Date();
  const sub = await prisma.subscription.create({
    data: {
      consumerId: consumer.id,
      planId: p.id,
      status: 'active',
      currentPeriodStart: new Date(now.getTime() - 86_400_000),
      currentPeriodEnd: new Date(now.getTime() + 29 * 86_400_000),
    },
  });
  const k = generateApiKey('live');
  const key = await prisma.apiKey.create({
    data: { consumerId: consumer.id, name: 'test key', prefix: k.prefix, hash: k.hash, lastFour: k.lastFour },
  });
  return {
    apiId: api.id,
    routeId: route.id,
    publicRouteId: publicRoute.id,
    planId: p.id,
    consumerId: consumer.id,
    subscriptionId: sub.id,
    key: k.key,
    keyId: key.id,
  };
}

/** Polls `check` until it returns true or the deadline passes; returns the time it took. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  deadlineMs: number,
  what: string,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > deadlineMs)
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
