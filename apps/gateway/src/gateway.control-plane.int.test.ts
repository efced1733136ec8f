import { createPrisma, type PrismaClient } from '@tollgate/db';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresControlPlaneSource } from './control-plane/postgres-source.ts';
import { buildTestGateway, type Echo, startEcho, type TestGateway } from './testing/fixtures.ts';
import { type SeededGateway, seedGateway, waitFor } from './testing/seed.ts';

/** Documented bound: a revoked key stops working within GATEWAY_KEY_CACHE_TTL_MS (≤ 5 s). */
const REVOCATION_BOUND_MS = 5_000;

describe('gateway.control-plane (Postgres)', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let echo: Echo;
  let seeded: SeededGateway;
  let gw: TestGateway;
  let controlPlane: TestGateway['controlPlane'];
  let app: TestGateway['app'];
  let source: PostgresControlPlaneSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    echo = await startEcho();
    seeded = await seedGateway(db.prisma, echo.url);
    prisma = createPrisma(db.url);
    source = new PostgresControlPlaneSource(prisma, db.url);
    gw = await buildTestGateway(source, { keyTtlMs: REVOCATION_BOUND_MS });
    ({ app, controlPlane } = gw);
  });

  afterAll(async () => {
    await gw?.close();
    await prisma?.$disconnect();
    await echo?.close();
    await db?.drop();
  });

  const get = (url: string, key = seeded.key) =>
    app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });

  it('serves the snapshot loaded from Postgres', async () => {
    const res = await get('/svc/hello');
    expect(res.statusCode).toBe(200);
    expect(res.json().url).toBe('/hello');
    expect(res.json().headers.host).toBe('upstream.internal');
    expect((await app.inject({ method: 'GET', url: '/svc/health' })).statusCode).toBe(200);
  });

  it('follows changes through LISTEN/NOTIFY: a new route is served without a restart', async () => {
    await db.prisma.route.create({
      data: { apiId: seeded.apiId, name: 'new', methods: ['GET'], path: '/fresh', cost: 3 },
    });
    const took = await waitFor(
      async () =>
        (await get('/svc/fresh')).headers['x-ratelimit-remaining'] !== undefined &&
        controlPlane.current!.routes.some((r) => r.name === 'new'),
      5000,
      'new route',
    );
    expect(took).toBeLessThan(2000);
  });

  it('a revoked key is rejected within the documented bound', async () => {
    expect((await get('/svc/x')).statusCode).toBe(200);
    const revokedAt = Date.now();
    await db.prisma.apiKey.update({ where: { id: seeded.keyId }, data: { revokedAt: new Date() } });
    const took = await waitFor(
      async () => (await get('/svc/x')).statusCode === 401,
      REVOCATION_BOUND_MS + 1000,
      'revocation',
    );
    expect(Date.now() - revokedAt).toBeLessThanOrEqual(REVOCATION_BOUND_MS);
    expect(took).toBeLessThanOrEqual(REVOCATION_BOUND_MS);
    // Restore for the next tests.
    await db.prisma.apiKey.update({ where: { id: seeded.keyId }, data: { revokedAt: null } });
    await waitFor(
      async () => (await get('/svc/x')).statusCode === 200,
      REVOCATION_BOUND_MS + 1000,
      'restored key',
    );
  });

  it('a broken configuration pushed to Postgres is quarantined and its API keeps its last good version', async () => {
    const quarantined = () => controlPlane.current!.quarantine.find((q) => q.id === seeded.apiId);
    const goodRoutes = controlPlane.current!.routes.length;
    // An upstream that is not a URL.
    const bad = await db.prisma.upstreamTarget.create({ data: { apiId: seeded.apiId, url: 'not a url' } });
    await waitFor(() => quarantined()?.servingLastGood === true, 5000, 'quarantine');
    expect(quarantined()!.problems).toEqual([expect.stringMatching(/^targets\..+\.url: an http\(s\) URL/)]);
    expect((await get('/svc/still-works')).statusCode).toBe(200);
    expect(controlPlane.current!.routes.length).toBe(goodRoutes);
    await db.prisma.upstreamTarget.delete({ where: { id: bad.id } });
    await waitFor(() => quarantined() === undefined, 5000, 'release');

    // Overlapping routes (same path, match and method).
    const dup = await db.prisma.route.create({
      data: { apiId: seeded.apiId, name: 'dup', methods: [], path: '/', cost: 1 },
    });
    await waitFor(() => quarantined() !== undefined, 5000, 'overlap quarantine');
    expect(quarantined()!.problems[0]).toMatch(/"(all|dup)" overlaps route "(dup|all)" on any host \/svc/);
    expect((await get('/svc/still-works')).statusCode).toBe(200);
    await db.prisma.route.delete({ where: { id: dup.id } });
    await waitFor(() => quarantined() === undefined, 5000, 'release');
  });
});
