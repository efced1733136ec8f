import { generateApiKey } from '@tollgate/core';
import { createPrisma, type PrismaClient } from '@tollgate/db';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdminApp } from './app.ts';
import { PostgresControlPlaneSource } from './control-plane/postgres-source.ts';
import { buildTestGateway, type Echo, startEcho, type TestGateway } from './testing/fixtures.ts';
import { type SeededGateway, seedGateway, waitFor } from './testing/seed.ts';

/**
 * The bound a control-plane change (a new route, consumer, suspension) takes to apply through
 * LISTEN/NOTIFY, the same as gateway.control-plane.int.test.ts: a quarantined row must not
 * slow the others down.
 */
const CONTROL_PLANE_BOUND_MS = 2_000;

describe('gateway.config-quarantine (Postgres)', () => {
  let db: TestDatabase;
  let echo: Echo;
  let svc: SeededGateway;
  let other: SeededGateway;
  let gw: TestGateway;
  let badApiId: string;
  const clients: PrismaClient[] = [];

  const startGateway = async () => {
    const prisma = createPrisma(db.url);
    clients.push(prisma);
    return buildTestGateway(new PostgresControlPlaneSource(prisma, db.url), { keyTtlMs: 5_000 });
  };
  const call = (g: TestGateway, url: string, key: string) =>
    g.app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
  const entry = (g: TestGateway, id: string) => g.controlPlane.current!.quarantine.find((q) => q.id === id);

  beforeAll(async () => {
    db = await createTestDatabase();
    echo = await startEcho();
    svc = await seedGateway(db.prisma, echo.url, {}, 'svc');
    other = await seedGateway(db.prisma, echo.url, {}, 'other');
    gw = await startGateway();
  });

  afterAll(async () => {
    await gw?.close();
    for (const c of clients) await c.$disconnect();
    await echo?.close();
    await db?.drop();
  });

  it('a bad API written straight into Postgres is quarantined alone; new consumers, suspensions and other APIs keep applying', async () => {
    expect(gw.controlPlane.current!.quarantine).toEqual([]);
    // The values the admin API used to accept and the compiler refused, in SQL past every validator.
    badApiId = await db.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO apis (name, slug, base_path, hosts) VALUES ('Bad', 'bad', '/bad', ARRAY['2:3']) RETURNING id::text`;
      const id = rows[0]!.id;
      await tx.$executeRaw`INSERT INTO routes (api_id, name, path) VALUES (${id}::uuid, 'user', '/users/{id}')`;
      await tx.$executeRaw`INSERT INTO upstream_targets (api_id, url) VALUES (${id}::uuid, 'http://127.0.0.1:4010/?debug=1')`;
      await tx.$executeRaw`INSERT INTO upstream_targets (api_id, url, health_check_path) VALUES (${id}::uuid, ${echo.url}, '/héalth')`;
      return id;
    });
    await waitFor(() => entry(gw, badApiId) !== undefined, 5_000, 'quarantine of the bad API');
    const bad = entry(gw, badApiId)!;
    expect(bad).toMatchObject({ kind: 'api', name: 'bad', servingLastGood: false });
    expect(bad.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^hosts\.0: a host name such as api\.example\.com \(no port/),
        expect.stringMatching(/^routes\..+\.path: path templates such as \/users\/\{id\} are not supported/),
        expect.stringMatching(/^targets\..+\.url: must not have a query string/),
        expect.stringMatching(/^targets\..+\.healthCheckPath: only letters, digits/),
      ]),
    );
    expect(gw.controlPlane.current!.quarantine).toHaveLength(1);

    // A bad edit of a served API: it keeps its last good version.
    await db.prisma.$executeRaw`UPDATE routes SET path = '/users/{id}' WHERE id = ${svc.routeId}::uuid`;
    await waitFor(() => entry(gw, svc.apiId)?.servingLastGood === true, 5_000, 'quarantine of svc');
    expect((await call(gw, '/svc/x', svc.key)).statusCode).toBe(200);

    // A developer who signs up now gets a working key within the usual bound...
    const key = generateApiKey('live');
    const created = Date.now();
    await db.prisma.consumer.create({
      data: {
        name: 'Newcomer',
        apiKeys: { create: { name: 'k', prefix: key.prefix, hash: key.hash, lastFour: key.lastFour } },
        subscriptions: {
          create: {
            planId: other.planId,
            status: 'active',
            currentPeriodStart: new Date(Date.now() - 60_000),
            currentPeriodEnd: new Date(Date.now() + 86_400_000),
          },
        },
      },
    });
    await waitFor(
      async () => (await call(gw, '/other/x', key.key)).statusCode === 200,
      5_000,
      'new consumer',
    );
    expect(Date.now() - created).toBeLessThan(CONTROL_PLANE_BOUND_MS);

    // ...and a suspension elsewhere applies within it too.
    const suspended = Date.now();
    await db.prisma.consumer.update({ where: { id: other.consumerId }, data: { status: 'suspended' } });
    await waitFor(
      async () => (await call(gw, '/other/x', other.key)).statusCode === 403,
      5_000,
      'suspension',
    );
    expect(Date.now() - suspended).toBeLessThan(CONTROL_PLANE_BOUND_MS);
    await db.prisma.consumer.update({ where: { id: other.consumerId }, data: { status: 'active' } });

    // Visible on /readyz with the version applied, and counted once per row.
    const admin = buildAdminApp({
      controlPlane: gw.controlPlane,
      metrics: gw.metrics,
      logger: pino({ level: 'silent' }),
      sinkHealth: { healthy: () => true },
      isShuttingDown: () => false,
    });
    const ready = await admin.inject({ url: '/readyz' });
    await admin.close();
    expect(ready.statusCode).toBe(200);
    const latest = await db.prisma.configVersion.findFirst({ orderBy: { version: 'desc' } });
    expect(ready.json().config).toMatchObject({
      version: Number(latest!.version),
      quarantined: [
        expect.objectContaining({ id: expect.any(String), kind: 'api' }),
        expect.objectContaining({ id: expect.any(String), kind: 'api' }),
      ],
    });
    expect(
      ready
        .json()
        .config.quarantined.map((q: { name: string }) => q.name)
        .sort(),
    ).toEqual(['bad', 'svc']);
    // Reloads since (the new consumer, the suspension) did not count the same rows again.
    expect(
      await gw.metrics.registry.getSingleMetricAsString('tollgate_gateway_config_quarantined_total'),
    ).toMatch(/kind="api"} 2$/m);
  });

  it('a gateway restarted with the bad rows boots, serves everything else, and the broken API from the history', async () => {
    await gw.close();
    gw = await startGateway();
    // The history holds a good version of svc (before the bad edit), none of the bad API.
    expect(gw.controlPlane.current!.quarantine.map((q) => [q.name, q.servingLastGood]).sort()).toEqual([
      ['bad', false],
      ['svc', true],
    ]);
    expect((await call(gw, '/other/x', other.key)).statusCode).toBe(200);
    expect((await call(gw, '/svc/x', svc.key)).statusCode).toBe(200);
    expect((await call(gw, '/bad/users', svc.key)).statusCode).toBe(404);
    // Repairing the row applies it without a restart.
    await db.prisma.route.update({ where: { id: svc.routeId }, data: { path: '/v2' } });
    await waitFor(() => entry(gw, svc.apiId) === undefined, 5_000, 'repaired svc');
    expect((await call(gw, '/svc/v2/x', svc.key)).statusCode).toBe(200);
    expect(entry(gw, badApiId)).toBeDefined();
  });
});
