import { generateApiKey } from '@tollgate/core';
import type { PrismaClient } from '@tollgate/db';

export interface BenchSeed {
  /** The plaintext API key the load generators send in X-API-Key. */
  key: string;
  /** Path prefix of the benchmark API on the gateway. */
  basePath: string;
}

/**
 * Control-plane data for the benchmark: one API `/bench` whose only target is the benchmark
 * upstream, one catch-all route, one plan with a quota and a rate so large that nothing is ever
 * refused (both limits are still checked on every request, in the one Redis round trip), one
 * consumer with an active subscription and one live API key.
 */
export async function seedBench(prisma: PrismaClient, upstreamUrl: string): Promise<BenchSeed> {
  const api = await prisma.api.create({
    data: {
      name: 'Benchmark API',
      slug: 'bench',
      basePath: '/bench',
      targets: { create: [{ url: upstreamUrl }] },
      routes: { create: [{ name: 'all', methods: [], path: '/', cost: 1, timeoutMs: 5000 }] },
    },
  });
  const plan = await prisma.plan.create({
    data: {
      slug: 'bench-unlimited',
      name: 'Benchmark (never refuses)',
      quota: 2_000_000_000,
      quotaPeriod: 'month',
      rateLimitPerSecond: 1_000_000_000,
      burst: 1_000_000_000,
      capMode: 'hard',
      redisFailurePolicy: 'fail_closed',
      entitlements: { create: [{ apiId: api.id }] },
    },
  });
  const consumer = await prisma.consumer.create({ data: { name: 'Benchmark consumer' } });
  const now = Date.now();
  await prisma.subscription.create({
    data: {
      consumerId: consumer.id,
      planId: plan.id,
      status: 'active',
      currentPeriodStart: new Date(now - 86_400_000),
      currentPeriodEnd: new Date(now + 29 * 86_400_000),
    },
  });
  const k = generateApiKey('live');
  await prisma.apiKey.create({
    data: {
      consumerId: consumer.id,
      name: 'bench key',
      prefix: k.prefix,
      hash: k.hash,
      lastFour: k.lastFour,
    },
  });
  return { key: k.key, basePath: '/bench' };
}
