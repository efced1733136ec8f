import { createPrisma, currentConfigVersion, listConfigVersions, type PrismaClient } from '@tollgate/db';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresControlPlaneSource } from './control-plane/postgres-source.ts';
import { buildTestGateway, type Echo, startEcho, type TestGateway } from './testing/fixtures.ts';
import { type SeededGateway, seedGateway, waitFor } from './testing/seed.ts';

/** The bound: a broken rule is detected and rolled back within 2 minutes. */
const ROLLBACK_BOUND_MS = 120_000;
const HEALTH_INTERVAL_MS = 100;

describe('gateway.config-rollback (Postgres, two gateways)', () => {
  let db: TestDatabase;
  let echo: Echo;
  let echo2: Echo;
  let svc: SeededGateway;
  let targetId: string;
  const gateways: TestGateway[] = [];
  const clients: PrismaClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    echo = await startEcho();
    echo2 = await startEcho();
    svc = await seedGateway(db.prisma, echo.url, {}, 'svc');
    const target = await db.prisma.upstreamTarget.findFirstOrThrow({ where: { apiId: svc.apiId } });
    targetId = target.id;
    await db.prisma.upstreamTarget.update({ where: { id: targetId }, data: { healthCheckPath: '/health' } });
    for (const instanceId of ['gateway/a', 'gateway/b']) {
      const prisma = createPrisma(db.url);
      clients.push(prisma);
      gateways.push(
        await buildTestGateway(new PostgresControlPlaneSource(prisma, db.url), {
          health: { intervalMs: HEALTH_INTERVAL_MS, failedChecks: 3 },
          instanceId,
        }),
      );
    }
  });

  afterAll(async () => {
    for (const g of gateways) await g.close();
    for (const c of clients) await c.$disconnect();
    await echo?.close();
    await echo2?.close();
    await db?.drop();
  });

  const call = (g: TestGateway) =>
    g.app.inject({ method: 'GET', url: '/svc/x', headers: { 'x-api-key': svc.key } });
  const targetUrl = async () =>
    (await db.prisma.upstreamTarget.findUniqueOrThrow({ where: { id: targetId } })).url;
  const rollbacks = async (result: string) => {
    let n = 0;
    for (const g of gateways) {
      const text = await g.metrics.registry.getSingleMetricAsString(
        'tollgate_gateway_config_rollbacks_total',
      );
      n += Number(new RegExp(`result="${result}"} (\\d+)`).exec(text)?.[1] ?? 0);
    }
    return n;
  };
  const applied = (version: number) => gateways.every((g) => g.controlPlane.current!.version === version);

  it('an upstream change that fails the health checks it passed before is rolled back, once, by one gateway', async () => {
    for (const g of gateways) await g.health!.runOnce(); // the target passes its checks
    const goodVersion = await currentConfigVersion(db.prisma);
    await waitFor(() => applied(goodVersion), 5_000, 'good version applied');

    // A broken rule: the upstream moved to a port where nothing listens (valid, so the admin API accepts it).
    const changedAt = Date.now();
    await db.prisma.upstreamTarget.update({ where: { id: targetId }, data: { url: 'http://127.0.0.1:1/' } });
    const badVersion = await currentConfigVersion(db.prisma);
    await waitFor(async () => (await targetUrl()) === echo.url, ROLLBACK_BOUND_MS, 'automatic rollback');
    const took = Date.now() - changedAt;
    console.log(
      `automatic rollback: ${took} ms from the change to the restored row (checks every ${HEALTH_INTERVAL_MS} ms)`,
    );
    expect(took).toBeLessThan(ROLLBACK_BOUND_MS);

    // Every gateway serves the restored upstream again.
    await waitFor(
      async () => {
        for (const g of gateways) if ((await call(g)).statusCode !== 200) return false;
        return true;
      },
      10_000,
      'traffic restored',
    );
    const [restored] = await listConfigVersions(db.prisma, { limit: 1 });
    expect(restored).toMatchObject({ version: badVersion + 1, restoredFrom: goodVersion });
    expect(restored!.actor).toMatch(/^gateway:gateway\/[ab]$/);
    const audit = await db.prisma.auditLog.findMany({ where: { action: 'config.auto_rollback' } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actorKind: 'gateway',
      targetType: 'config_version',
      targetId: String(goodVersion),
    });
    expect(audit[0]!.after).toMatchObject({
      scope: { apiIds: [svc.apiId] },
      reason: { api: 'svc', failedVersion: badVersion },
    });
    // One gateway restored; the other found it already done (or never got that far).
    await waitFor(
      () => gateways.every((g) => g.probation!.pending().length === 0),
      10_000,
      'probations over',
    );
    expect(await rollbacks('restored')).toBe(1);
    expect(await rollbacks('failed')).toBe(0);
    // Nothing rolled the rollback back.
    expect(await currentConfigVersion(db.prisma)).toBe(badVersion + 1);
  });

  it('an upstream change that passes its health checks stays', async () => {
    const before = await rollbacks('restored');
    for (const g of gateways) await g.health!.runOnce(); // healthy before the change
    // Checks run by hand from here, so the probation is seen before it ends.
    for (const g of gateways) g.health!.stop();
    await db.prisma.upstreamTarget.update({ where: { id: targetId }, data: { url: echo2.url } });
    const version = await currentConfigVersion(db.prisma);
    await waitFor(() => applied(version), 5_000, 'change applied');
    expect(gateways.map((g) => g.probation!.pending())).toEqual([
      [{ api: 'svc', version, restoring: false }],
      [{ api: 'svc', version, restoring: false }],
    ]);
    for (const g of gateways) await g.health!.runOnce();
    expect(gateways.every((g) => g.probation!.pending().length === 0)).toBe(true);
    expect(await targetUrl()).toBe(echo2.url);
    expect(await rollbacks('restored')).toBe(before);
    expect((await call(gateways[0]!)).json().url).toBe('/x');
    expect(echo2.requests.some((r) => r.url === '/x')).toBe(true);
  });
});
