import { MemoryLimiter, MemoryUsageSink } from '@tollgate/core';
import { createPrisma, migratePostgres, type PrismaClient } from '@tollgate/db';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateStack, startPrivateStack } from '../../../infra/testing/stack.ts';
import { AccessLog } from './access-log.ts';
import { buildApp } from './app.ts';
import { ControlPlane } from './control-plane/control-plane.ts';
import { PostgresControlPlaneSource } from './control-plane/postgres-source.ts';
import { ApiKeyResolver } from './identity/resolve-api-key.ts';
import { createMetrics } from './metrics.ts';
import { TargetRegistry } from './proxy/upstream.ts';
import { type Echo, startEcho } from './testing/fixtures.ts';
import { type SeededGateway, seedGateway, waitFor } from './testing/seed.ts';

// Stops Postgres on purpose: a PRIVATE Postgres (never the shared stack's).
describe('gateway.postgres-outage (private Postgres stopped and restarted)', () => {
  let stack: PrivateStack;
  let seedPrisma: PrismaClient;
  let prisma: PrismaClient;
  let echo: Echo;
  let seeded: SeededGateway;
  let controlPlane: ControlPlane;
  let registry: TargetRegistry;
  let keys: ApiKeyResolver;
  let app: ReturnType<typeof buildApp>;
  const metrics = createMetrics();

  beforeAll(async () => {
    stack = await startPrivateStack({ services: ['postgres'] });
    const url = stack.env.DATABASE_URL!;
    await migratePostgres(url);
    seedPrisma = createPrisma(url);
    echo = await startEcho();
    seeded = await seedGateway(seedPrisma, echo.url, { quota: null });
    prisma = createPrisma(url);
    const source = new PostgresControlPlaneSource(prisma, url);
    const logger = pino({ level: 'silent' });
    registry = new TargetRegistry({
      connections: 8,
      connectTimeoutMs: 1000,
      passiveFailures: 3,
      breakerFailures: 5,
      breakerOpenMs: 5000,
    });
    keys = new ApiKeyResolver(
      (h) => source.findKeyByHash(h),
      { ttlMs: 1000, negativeTtlMs: 1000, maxEntries: 100 },
      metrics,
    );
    controlPlane = new ControlPlane({
      source,
      registry,
      metrics,
      logger,
      defaultMaxBodyBytes: 1 << 20,
      resyncMs: 60_000,
      onKeysChanged: () => keys.clear(),
    });
    await controlPlane.start();
    app = buildApp({
      controlPlane,
      keys,
      jwt: null,
      limiter: new MemoryLimiter(),
      fallbackLimiter: new MemoryLimiter(),
      sink: new MemoryUsageSink(),
      metrics,
      accessLog: AccessLog.off(),
      logger,
      options: {
        instanceId: 'gw-pg',
        trustedProxies: null,
        consumerHeader: 'x-tollgate-consumer',
        planHeader: 'x-tollgate-plan',
        retries: 1,
        failClosedRetryAfterS: 1,
      },
      limits: {
        maxHeaderBytes: 16384,
        headersTimeoutMs: 5000,
        requestTimeoutMs: 30000,
        keepAliveTimeoutMs: 5000,
      },
    });
    await app.ready();
  }, 240_000);

  afterAll(async () => {
    await app?.close();
    await controlPlane?.close();
    await registry?.close();
    await prisma?.$disconnect().catch(() => {});
    await seedPrisma?.$disconnect().catch(() => {});
    await echo?.close();
    await stack?.destroy();
  }, 120_000);

  const get = (url: string) => app.inject({ method: 'GET', url, headers: { 'x-api-key': seeded.key } });

  it('keeps serving from the last snapshot (and known keys) while Postgres is down; follows changes again after it returns', async () => {
    expect((await get('/svc/a')).statusCode).toBe(200);
    await stack.stop('postgres');
    try {
      const loadErrors = () => metrics.snapshotLoadErrors.get().then((m) => m.values[0]?.value ?? 0);
      const before = await loadErrors();
      await controlPlane.refresh();
      expect(await loadErrors()).toBeGreaterThan(before);
      // Past the key cache TTL: the cached key keeps working on its stale entry.
      await new Promise((r) => setTimeout(r, 1100));
      for (let i = 0; i < 5; i++) expect((await get('/svc/during-outage')).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/svc/health' })).statusCode).toBe(200);
    } finally {
      await stack.start('postgres');
    }
    // The listener reconnects and resyncs; a change made after the outage arrives by NOTIFY.
    await waitFor(
      async () => {
        try {
          await seedPrisma.$queryRaw`SELECT 1`;
          return true;
        } catch {
          return false;
        }
      },
      30_000,
      'postgres back',
    );
    await seedPrisma.route.create({
      data: { apiId: seeded.apiId, name: 'after', methods: ['GET'], path: '/after', cost: 1 },
    });
    await waitFor(
      () => controlPlane.current!.routes.some((r) => r.name === 'after'),
      20_000,
      'route added after the outage',
    );
    expect((await get('/svc/after')).statusCode).toBe(200);
  }, 120_000);
});
