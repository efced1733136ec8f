import { currentConfigVersion, getConfigVersion, loadProviderConfig } from '@tollgate/db/client';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as apiRoute from '../../app/admin/v1/apis/[id]/route.ts';
import * as apiRoutesRoute from '../../app/admin/v1/apis/[id]/routes/route.ts';
import * as apiTargetsRoute from '../../app/admin/v1/apis/[id]/targets/route.ts';
import * as apisRoute from '../../app/admin/v1/apis/route.ts';
import * as quarantineRoute from '../../app/admin/v1/config-quarantine/route.ts';
import * as rollbackRoute from '../../app/admin/v1/config-versions/[version]/rollback/route.ts';
import * as versionRoute from '../../app/admin/v1/config-versions/[version]/route.ts';
import * as versionsRoute from '../../app/admin/v1/config-versions/route.ts';
import * as planRoute from '../../app/admin/v1/plans/[id]/route.ts';
import * as plansRoute from '../../app/admin/v1/plans/route.ts';
import * as routeRoute from '../../app/admin/v1/routes/[id]/route.ts';
import { sha256Hex } from '../crypto.ts';
import { provideDeps } from '../deps.ts';
import { adminOpenApi } from '../rest/openapi.ts';

/**
 * The admin API's configuration use cases against a real Postgres, through the /admin/v1 route
 * handlers themselves: every value the gateway refuses is a 4xx naming the field and changes
 * nothing; rollback restores an earlier version in one call.
 */

type Handler = (request: Request, context: { params: Promise<Record<string, string>> }) => Promise<Response>;

const TOKEN = 'cfg-admin-token-0123456789abcdef';

describe('admin.config', () => {
  let db: TestDatabase;
  let tokenId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    provideDeps({ prisma: db.prisma });
    tokenId = (
      await db.prisma.adminToken.create({
        data: { name: 'test', tokenHash: sha256Hex(TOKEN), prefix: TOKEN.slice(0, 8) },
      })
    ).id;
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function call(handler: unknown, method: string, body?: unknown, params: Record<string, string> = {}) {
    const request = new Request('http://portal.test/admin/v1/x', {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const res = await (handler as Handler)(request, { params: Promise.resolve(params) });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: text === '' ? null : JSON.parse(text),
    };
  }
  const state = async () =>
    JSON.stringify([await loadProviderConfig(db.prisma), await currentConfigVersion(db.prisma)]);
  const createApi = async (slug: string, extra: Record<string, unknown> = {}) => {
    const res = await call(apisRoute.POST, 'POST', { name: slug, slug, basePath: `/${slug}`, ...extra });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };
  const addRoute = (apiId: string, body: Record<string, unknown>) =>
    call(apiRoutesRoute.POST, 'POST', { name: 'r', cost: 1, ...body }, { id: apiId });

  it('values the gateway refused are 400s naming the field, and change nothing', async () => {
    const svc = await createApi('svc');
    const before = await state();
    const refusals: [unknown, unknown, Record<string, string>, string, RegExp][] = [
      [
        apisRoute.POST,
        { name: 'Bad', slug: 'bad', basePath: '/bad', hosts: ['2:3'] },
        {},
        'hosts.0',
        /no port/,
      ],
      [apisRoute.POST, { name: 'Bad', slug: 'bad', basePath: '/bad/{v}' }, {}, 'basePath', /templates/],
      [
        apiRoutesRoute.POST,
        { name: 'u', cost: 1, path: '/users/{id}' },
        { id: svc },
        'path',
        /\/users\/\{id\} are not supported/,
      ],
      [
        apiRoutesRoute.POST,
        { name: 'u', cost: 1, path: '/users/:id' },
        { id: svc },
        'path',
        /:id are not supported/,
      ],
      [
        apiRoutesRoute.POST,
        { name: 'u', cost: 1, path: '/%68eavy' },
        { id: svc },
        'path',
        /percent-encoding/,
      ],
      [apiRoutesRoute.POST, { name: 'u', cost: 1, path: '/heavy;x' }, { id: svc }, 'path', /';'/],
      [apiRoutesRoute.POST, { name: 'u', cost: 1, path: '/a//b' }, { id: svc }, 'path', /empty segments/],
      [
        apiRoutesRoute.POST,
        { name: 'u', cost: 1, path: '/x', methods: ['TRACE'] },
        { id: svc },
        'methods.0',
        /one of GET/,
      ],
      [
        apiRoutesRoute.POST,
        { name: 'u', cost: 1, path: '/x', pathMatch: 'glob' },
        { id: svc },
        'pathMatch',
        /prefix or exact/,
      ],
      [apiTargetsRoute.POST, { url: 'http://127.0.0.1:4010/?debug=1' }, { id: svc }, 'url', /query string/],
      [apiTargetsRoute.POST, { url: 'http://user:pw@127.0.0.1:4010' }, { id: svc }, 'url', /credentials/],
      [
        apiTargetsRoute.POST,
        { url: 'http://127.0.0.1:4010', healthCheckPath: '/héalth' },
        { id: svc },
        'healthCheckPath',
        /only letters, digits/,
      ],
      [apiTargetsRoute.POST, { url: 'http://127.0.0.1:4010', weight: 1000 }, { id: svc }, 'weight', /100/],
    ];
    for (const [handler, body, params, field, message] of refusals) {
      const res = await call(handler, 'POST', body, params);
      const label = `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`;
      expect(res.status, label).toBe(400);
      expect(res.type).toBe('application/problem+json');
      expect(res.body.code, label).toBe('INVALID_INPUT');
      expect(res.body.fieldErrors[field], label).toMatch(message);
    }
    expect(await state()).toBe(before);
  });

  it('overlaps are 409s naming the field: a route on top of another, an API moved on top of another', async () => {
    const one = await createApi('one');
    expect((await addRoute(one, { name: 'all', path: '/' })).status).toBe(201);
    const two = await createApi('two');
    expect((await addRoute(two, { name: 'all', path: '/' })).status).toBe(201);
    const before = await state();

    const dup = await addRoute(one, { name: 'dup', path: '/' });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ code: 'ROUTE_OVERLAP' });
    expect(dup.body.fieldErrors.path).toMatch(/overlaps route "all" on any host \/one/);

    const moved = await call(apiRoute.PATCH, 'PATCH', { basePath: '/one' }, { id: two });
    expect(moved.status).toBe(409);
    expect(moved.body.fieldErrors.basePath).toMatch(/overlaps route "all" of API "one"/);
    // Different methods, or exact next to prefix, are no overlap.
    expect(await state()).toBe(before);
    expect((await addRoute(one, { name: 'exact', path: '/', pathMatch: 'exact' })).status).toBe(201);
  });

  it('pathMatch: exact for a public route when omitted, prefix otherwise; making a route public makes it exact', async () => {
    const api = await createApi('match');
    const pub = await addRoute(api, { name: 'health', path: '/health', public: true });
    const priv = await addRoute(api, { name: 'all', path: '/' });
    expect([pub.body.pathMatch, priv.body.pathMatch]).toEqual(['exact', 'prefix']);
    const made = await call(routeRoute.PATCH, 'PATCH', { public: true }, { id: priv.body.id });
    expect(made.body).toMatchObject({ public: true, pathMatch: 'exact' });
    const prefix = await call(routeRoute.PATCH, 'PATCH', { pathMatch: 'prefix' }, { id: priv.body.id });
    expect(prefix.body).toMatchObject({ public: true, pathMatch: 'prefix' });
    // An unrelated edit keeps an explicit public prefix.
    const renamed = await call(routeRoute.PATCH, 'PATCH', { name: 'everything' }, { id: priv.body.id });
    expect(renamed.body).toMatchObject({ name: 'everything', pathMatch: 'prefix' });
  });

  it('rolls back to an earlier version in one call: the configuration is that version again, audited', async () => {
    const api = await createApi('roll');
    const route = (await addRoute(api, { name: 'all', path: '/', cost: 1 })).body;
    const plan = await call(plansRoute.POST, 'POST', {
      slug: 'roll',
      name: 'Roll',
      quota: 100,
      quotaPeriod: 'month',
      priceCents: 0,
      capMode: 'hard',
      visibility: 'public',
      apiIds: [api],
    });
    expect(plan.status).toBe(201);
    const good = await currentConfigVersion(db.prisma);

    expect((await call(routeRoute.PATCH, 'PATCH', { cost: 50, path: '/v2' }, { id: route.id })).status).toBe(
      200,
    );
    expect(
      (await call(apiTargetsRoute.POST, 'POST', { url: 'http://10.0.0.9:81' }, { id: api })).status,
    ).toBe(201);
    expect((await call(planRoute.PATCH, 'PATCH', { quota: 999 }, { id: plan.body.id })).status).toBe(200);
    await createApi('later');
    const bad = await currentConfigVersion(db.prisma);
    expect(bad).toBeGreaterThan(good);

    const res = await call(rollbackRoute.POST, 'POST', undefined, { version: String(good) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ version: bad + 1, restoredFrom: good, changed: true, keptPlans: [] });
    expect(await loadProviderConfig(db.prisma)).toEqual((await getConfigVersion(db.prisma, good))!.content);

    const audit = await db.prisma.auditLog.findFirstOrThrow({ where: { action: 'config.rollback' } });
    expect(audit).toMatchObject({ actorKind: 'admin_token', actorId: tokenId, targetId: String(good) });
    const list = await call(versionsRoute.GET, 'GET');
    expect(list.body.current).toBe(bad + 1);
    expect(list.body.versions[0]).toMatchObject({
      version: bad + 1,
      restoredFrom: good,
      actor: `admin_token:${tokenId}`,
    });
    expect(
      (await call(versionRoute.GET, 'GET', undefined, { version: String(good) })).body.content.apis,
    ).toEqual(expect.arrayContaining([expect.objectContaining({ slug: 'roll' })]));

    // The current version again: nothing to do. Unknown versions: 404.
    const again = await call(rollbackRoute.POST, 'POST', undefined, { version: String(bad + 1) });
    expect(again.body).toMatchObject({ version: bad + 1, changed: false });
    expect((await call(rollbackRoute.POST, 'POST', undefined, { version: '999999' })).status).toBe(404);
    expect((await call(rollbackRoute.POST, 'POST', undefined, { version: 'x1' })).status).toBe(404);
    expect((await call(versionsRoute.GET, 'GET')).status).toBe(200);
  });

  it('a row written past the admin API is listed as quarantined, does not block other edits, and cannot be restored', async () => {
    const api = await createApi('direct');
    const route = (await addRoute(api, { name: 'all', path: '/' })).body;
    await db.prisma.$executeRaw`UPDATE routes SET path = '/users/{id}' WHERE id = ${route.id}::uuid`;
    const broken = await currentConfigVersion(db.prisma);
    const q = await call(quarantineRoute.GET, 'GET');
    expect(q.body).toMatchObject({
      version: broken,
      quarantined: [
        {
          kind: 'api',
          id: api,
          name: 'direct',
          problems: [expect.stringMatching(/^routes\..+\.path: path templates/)],
        },
      ],
    });
    // Another API's edit is not blocked by it, and neither is an unrelated edit of the broken API itself.
    expect((await addRoute(await createApi('unrelated'), { name: 'all', path: '/' })).status).toBe(201);
    expect((await call(apiRoute.PATCH, 'PATCH', { name: 'Direct (broken)' }, { id: api })).status).toBe(200);
    // Repaired through the API; restoring the broken version is refused and changes nothing.
    expect((await call(routeRoute.PATCH, 'PATCH', { path: '/users' }, { id: route.id })).status).toBe(200);
    expect((await call(quarantineRoute.GET, 'GET')).body.quarantined).toEqual([]);
    const before = await state();
    const res = await call(rollbackRoute.POST, 'POST', undefined, { version: String(broken) });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'INVALID_CONFIG' });
    expect(res.body.problems).toEqual([
      expect.stringMatching(/^api direct: routes\..+\.path: path templates/),
    ]);
    expect(await state()).toBe(before);
  });

  it('the OpenAPI document states the path rule and lists the version endpoints', () => {
    const doc = adminOpenApi('http://portal.test') as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/admin/v1/config-versions',
        '/admin/v1/config-versions/{version}',
        '/admin/v1/config-versions/{version}/rollback',
        '/admin/v1/config-quarantine',
      ]),
    );
    const routeBody = JSON.stringify(doc.paths['/admin/v1/apis/{id}/routes']);
    expect(routeBody).toContain('"pattern"');
    expect(routeBody).toContain('"enum":["prefix","exact"]');
  });
});
