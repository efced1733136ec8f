import { createPrisma, migratePostgres, type PrismaClient } from '@tollgate/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateStack, startPrivateStack } from '../../../infra/testing/stack.ts';
import { PostgresControlPlaneSource } from './control-plane/postgres-source.ts';
import { buildTestGateway, type Echo, startEcho, type TestGateway } from './testing/fixtures.ts';
import { type SeededGateway, seedGateway, waitFor } from './testing/seed.ts';

// Stops Postgres on purpose: a PRIVATE Postgres (never the shared stack's).
describe('gateway.postgres-outage (private Postgres stopped and restarted)', () => {
  let stack: PrivateStack;
  let seedPrisma: PrismaClient;
  let prisma: PrismaClient;
  let echo: Echo;
  let seeded: SeededGateway;
  let gw: TestGateway;
  let controlPlane: TestGateway['controlPlane'];
  let app: TestGateway['app'];
  let metrics: TestGateway['metrics'];

  beforeAll(async () => {
    stack = await startPrivateStack({ services: ['postgres'] });
    const url = stack.env.DATABASE_URL!;
    await migratePostgres(url);
    seedPrisma = createPrisma(url);
    echo = await startEcho();
    seeded = await seedGateway(seedPrisma, echo.url, { quota: null });
    prisma = createPrisma(url);
    gw = await buildTestGateway(new PostgresControlPlaneSource(prisma, url), { keyTtlMs: 1000 });
    ({ app, controlPlane, metrics } = gw);
  }, 240_000);

  afterAll(async () => {
    await gw?.close();
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
