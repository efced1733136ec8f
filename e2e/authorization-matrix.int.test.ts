import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActionCall,
  callServerAction,
  deadServiceUrl,
  ensurePortalBuild,
  listAppPaths,
  listServerActions,
  type RunningPortal,
  type ServerActionRef,
  startPortal,
} from './support/portal.ts';
import { PASSWORD, type Principal, seedWorld, type World } from './support/world.ts';

/**
 * The authorization matrix: every server action, route handler and page in the built portal ×
 * every principal (anonymous, developer A, developer B, admin, finance) × another consumer's
 * objects. Zero unauthorized reads or writes. The lists come from Next's build manifests, so an
 * action, route or page added without an entry here fails this test.
 */

const PRINCIPALS: Principal[] = ['anonymous', 'devA', 'devB', 'admin', 'finance'];
const OTHER_ORIGIN = 'http://attacker.example';

type Role = 'dev' | 'admin' | 'finance' | 'anyone';

interface ActionSpec {
  /** Who may run the action at all. */
  allowed: Role[];
  /** Input aimed at objects that are not developer A's (B's keys, the platform's plans, ...). */
  attack: (w: World) => unknown;
  /** Skip running it for these principals (it would end the caller's own session, etc.). */
  skip?: Principal[];
  /** It legitimately creates a new account: then only the existing accounts must stay unchanged. */
  createsAccount?: boolean;
}

const ACTIONS: Record<string, ActionSpec> = {
  // auth: anyone may call; they never act on another account
  signInAction: {
    allowed: ['anyone'],
    attack: (w) => ({ email: w.users.devB.email, password: 'wrong password!' }),
  },
  signUpAction: {
    allowed: ['anyone'],
    // mass assignment attempt: role and consumer are not inputs
    attack: (w) => ({
      name: 'x',
      email: `new-${Date.now()}-${Math.random()}@example.test`,
      password: 'long enough password',
      role: 'admin',
      consumerId: w.consumerB,
    }),
    skip: ['devA', 'devB', 'admin', 'finance'],
    createsAccount: true,
  },
  signOutAction: { allowed: ['anyone'], attack: () => ({}), skip: ['devA', 'devB', 'admin', 'finance'] },
  // developer: object-level
  createApiKeyAction: { allowed: ['dev'], attack: (w) => ({ name: 'intruder', consumerId: w.consumerB }) },
  rotateApiKeyAction: { allowed: ['dev'], attack: (w) => ({ keyId: w.keyB.id, overlapHours: 0 }) },
  revokeApiKeyAction: { allowed: ['dev'], attack: (w) => ({ keyId: w.keyB.id }) },
  updateAlertWebhookAction: {
    allowed: ['dev'],
    attack: (w) => ({ url: 'https://attacker.example/hook', consumerId: w.consumerB }),
  },
  subscribeAction: {
    allowed: ['dev'],
    attack: (w) => ({ planId: w.privatePlanId, consumerId: w.consumerB }),
  },
  previewPlanChangeAction: {
    allowed: ['dev'],
    attack: (w) => ({ planId: w.privatePlanId, consumerId: w.consumerB }),
  },
  openBillingPortalAction: { allowed: ['dev'], attack: (w) => ({ consumerId: w.consumerB }) },
  changePlanAction: {
    allowed: ['dev'],
    attack: (w) => ({ planId: w.privatePlanId, consumerId: w.consumerB }),
  },
  // admin
  saveApiAction: {
    allowed: ['admin'],
    attack: (w) => ({ id: w.apiId, name: 'pwned', slug: 'echo', basePath: '/echo' }),
  },
  deleteApiAction: { allowed: ['admin'], attack: (w) => ({ id: w.apiId }) },
  saveRouteAction: {
    allowed: ['admin'],
    attack: (w) => ({ id: w.routeId, apiId: w.apiId, name: 'pwned', path: '/', cost: 0 }),
  },
  deleteRouteAction: { allowed: ['admin'], attack: (w) => ({ id: w.routeId }) },
  addUpstreamTargetAction: {
    allowed: ['admin'],
    attack: (w) => ({ apiId: w.apiId, url: 'http://attacker.example' }),
  },
  removeUpstreamTargetAction: { allowed: ['admin'], attack: (w) => ({ id: w.targetId }) },
  savePlanAction: {
    allowed: ['admin'],
    attack: (w) => ({
      id: w.publicPlanId,
      slug: 'free',
      name: 'Free',
      quota: 999999999,
      quotaPeriod: 'month',
      priceCents: 0,
      capMode: 'hard',
      visibility: 'public',
    }),
  },
  suspendConsumerAction: { allowed: ['admin'], attack: (w) => ({ id: w.consumerB, reason: 'pwned' }) },
  reinstateConsumerAction: { allowed: ['admin'], attack: (w) => ({ id: w.consumerB }) },
  changeConsumerPlanAction: {
    allowed: ['admin'],
    attack: (w) => ({ id: w.consumerB, planId: w.privatePlanId }),
  },
  createAdminTokenAction: { allowed: ['admin'], attack: () => ({ name: 'backdoor' }) },
  revokeAdminTokenAction: { allowed: ['admin'], attack: (w) => ({ id: w.adminTokenId }) },
  // version 1: the configuration before the world was seeded (no APIs): a rollback would wipe it
  rollbackConfigVersionAction: { allowed: ['admin'], attack: () => ({ version: 1 }) },
};

type PageAccess = 'public' | 'dev' | 'admin' | 'finance';
const PAGES: Record<string, PageAccess> = {
  '/': 'public',
  '/signin': 'public',
  '/signup': 'public',
  '/forbidden': 'public',
  '/pricing': 'public',
  '/apis': 'public',
  '/apis/[slug]': 'public',
  '/dashboard': 'dev',
  '/keys': 'dev',
  '/usage': 'dev',
  '/billing': 'dev',
  '/admin': 'admin',
  '/admin/apis': 'admin',
  '/admin/apis/[id]': 'admin',
  '/admin/plans': 'admin',
  '/admin/plans/new': 'admin',
  '/admin/plans/[id]': 'admin',
  '/admin/consumers': 'admin',
  '/admin/audit': 'admin',
  '/admin/config': 'admin',
  '/admin/tokens': 'admin',
  '/finance': 'finance',
  '/finance/reconciliation': 'finance',
};

/** Route handlers: methods, and whether they take the admin bearer token, a session, or nothing. */
const ROUTES: Record<string, { methods: string[]; auth: 'admin-token' | 'finance-session' | 'public' }> = {
  '/admin/v1/openapi.json': { methods: ['GET'], auth: 'public' },
  '/admin/v1/apis': { methods: ['GET', 'POST'], auth: 'admin-token' },
  '/admin/v1/apis/[id]': { methods: ['GET', 'PATCH', 'DELETE'], auth: 'admin-token' },
  '/admin/v1/apis/[id]/routes': { methods: ['POST'], auth: 'admin-token' },
  '/admin/v1/apis/[id]/targets': { methods: ['POST'], auth: 'admin-token' },
  '/admin/v1/routes/[id]': { methods: ['GET', 'PATCH', 'DELETE'], auth: 'admin-token' },
  '/admin/v1/targets/[id]': { methods: ['DELETE'], auth: 'admin-token' },
  '/admin/v1/plans': { methods: ['GET', 'POST'], auth: 'admin-token' },
  '/admin/v1/plans/[id]': { methods: ['GET', 'PATCH'], auth: 'admin-token' },
  '/admin/v1/consumers': { methods: ['GET', 'POST'], auth: 'admin-token' },
  '/admin/v1/consumers/[id]/members': { methods: ['POST'], auth: 'admin-token' },
  '/admin/v1/consumers/[id]/members/[userId]': { methods: ['DELETE'], auth: 'admin-token' },
  '/admin/v1/consumers/[id]/keys': { methods: ['GET', 'POST'], auth: 'admin-token' },
  '/admin/v1/consumers/[id]/keys/[keyId]': { methods: ['GET', 'DELETE'], auth: 'admin-token' },
  '/admin/v1/consumers/[id]/keys/[keyId]/rotate': { methods: ['POST'], auth: 'admin-token' },
  '/admin/v1/consumers/[id]/subscription/cancel': { methods: ['POST'], auth: 'admin-token' },
  '/admin/v1/consumers/[id]': { methods: ['GET'], auth: 'admin-token' },
  '/admin/v1/consumers/[id]/suspend': { methods: ['POST'], auth: 'admin-token' },
  '/admin/v1/consumers/[id]/reinstate': { methods: ['POST'], auth: 'admin-token' },
  '/admin/v1/consumers/[id]/plan': { methods: ['POST'], auth: 'admin-token' },
  '/admin/v1/audit-log': { methods: ['GET'], auth: 'admin-token' },
  '/admin/v1/config-versions': { methods: ['GET'], auth: 'admin-token' },
  '/admin/v1/config-versions/[version]': { methods: ['GET'], auth: 'admin-token' },
  '/admin/v1/config-versions/[version]/rollback': { methods: ['POST'], auth: 'admin-token' },
  '/admin/v1/config-quarantine': { methods: ['GET'], auth: 'admin-token' },
  '/admin/v1/tokens': { methods: ['GET', 'POST'], auth: 'admin-token' },
  '/admin/v1/tokens/[id]': { methods: ['DELETE'], auth: 'admin-token' },
  '/finance/usage.csv': { methods: ['GET'], auth: 'finance-session' },
  '/icon.svg': { methods: ['GET'], auth: 'public' },
  '/api/health': { methods: ['GET'], auth: 'public' },
};

function roleOf(p: Principal): Role | null {
  if (p === 'devA' || p === 'devB') return 'dev';
  if (p === 'admin' || p === 'finance') return p;
  return null;
}

let db: TestDatabase;
let portal: RunningPortal;
let world: World;
let actions: ServerActionRef[];
let paths: { pages: string[]; routes: string[] };

/** Every row an unauthorized call could touch, minus what developer A may legitimately change. */
async function snapshot(except?: { consumerId: string }, onlyWorld = false): Promise<string> {
  const p = db.prisma;
  if (onlyWorld) {
    // the seeded accounts only (a sign-up may add new ones)
    const ids = [world.consumerA, world.consumerB];
    const [keys, consumers, members, users] = await Promise.all([
      p.apiKey.findMany({ where: { consumerId: { in: ids } }, orderBy: { id: 'asc' } }),
      p.consumer.findMany({ where: { id: { in: ids } }, orderBy: { id: 'asc' } }),
      p.consumerMember.findMany({ where: { consumerId: { in: ids } }, orderBy: { userId: 'asc' } }),
      p.user.findMany({
        where: { id: { in: Object.values(world.users).map((u) => u.id) } },
        orderBy: { id: 'asc' },
      }),
    ]);
    return JSON.stringify({ keys, consumers, members, users });
  }
  const notA = except ? { NOT: { consumerId: except.consumerId } } : {};
  const [keys, consumers, subs, plans, ents, apis, routes, targets, users, members, tokens, audit] =
    await Promise.all([
      p.apiKey.findMany({ where: notA, orderBy: { id: 'asc' } }),
      p.consumer.findMany({
        where: except ? { NOT: { id: except.consumerId } } : {},
        orderBy: { id: 'asc' },
      }),
      p.subscription.findMany({ where: notA, orderBy: { id: 'asc' } }),
      p.plan.findMany({ orderBy: { id: 'asc' } }),
      p.planEntitlement.findMany({ orderBy: { id: 'asc' } }),
      p.api.findMany({ orderBy: { id: 'asc' } }),
      p.route.findMany({ orderBy: { id: 'asc' } }),
      p.upstreamTarget.findMany({ orderBy: { id: 'asc' } }),
      p.user.findMany({
        orderBy: { id: 'asc' },
        select: { id: true, email: true, role: true, passwordHash: true },
      }),
      p.consumerMember.findMany({ orderBy: [{ consumerId: 'asc' }, { userId: 'asc' }] }),
      p.adminToken.findMany({ orderBy: { id: 'asc' } }),
      p.auditLog.count(),
    ]);
  return JSON.stringify(
    { keys, consumers, subs, plans, ents, apis, routes, targets, users, members, tokens, audit },
    (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
  );
}

function cookieOf(p: Principal): string | undefined {
  return p === 'anonymous' ? undefined : world.users[p].cookie;
}

function fill(path: string): string {
  return path
    .replace('/apis/[slug]', '/apis/echo')
    .replace('/admin/apis/[id]', `/admin/apis/${world.apiId}`)
    .replace('/admin/plans/[id]', `/admin/plans/${world.publicPlanId}`)
    .replace('/admin/v1/apis/[id]', `/admin/v1/apis/${world.apiId}`)
    .replace('/admin/v1/routes/[id]', `/admin/v1/routes/${world.routeId}`)
    .replace('/admin/v1/targets/[id]', `/admin/v1/targets/${world.targetId}`)
    .replace('/admin/v1/plans/[id]', `/admin/v1/plans/${world.publicPlanId}`)
    .replace('/admin/v1/consumers/[id]', `/admin/v1/consumers/${world.consumerB}`)
    .replace('/keys/[keyId]', `/keys/${world.keyB.id}`)
    .replace('/members/[userId]', `/members/${world.users.devB.id}`)
    .replace('/admin/v1/tokens/[id]', `/admin/v1/tokens/${world.adminTokenId}`)
    .replace('/admin/v1/config-versions/[version]', '/admin/v1/config-versions/1');
}

beforeAll(async () => {
  await ensurePortalBuild();
  db = await createTestDatabase();
  world = await seedWorld(db.prisma);
  portal = await startPortal({
    DATABASE_URL: db.url,
    METERING_URL: await deadServiceUrl(),
    BILLING_URL: await deadServiceUrl(),
    SERVICE_TIMEOUT_MS: '1000',
  });
  actions = await listServerActions();
  paths = await listAppPaths();
}, 600_000);

afterAll(async () => {
  await portal?.stop();
  await db?.drop();
});

describe('authorization matrix', () => {
  it('classifies every server action, page and route handler in the build', () => {
    expect(actions.map((a) => a.name).sort()).toEqual(Object.keys(ACTIONS).sort());
    expect(paths.pages).toEqual(Object.keys(PAGES).sort());
    expect(paths.routes).toEqual(Object.keys(ROUTES).sort());
  });

  it('server actions: no principal changes anything it is not allowed to, and devA never touches B', async () => {
    const failures: string[] = [];
    for (const action of actions) {
      const spec = ACTIONS[action.name]!;
      for (const principal of PRINCIPALS) {
        if (spec.skip?.includes(principal)) continue;
        const role = roleOf(principal);
        const roleAllowed = spec.allowed.includes('anyone') || (role !== null && spec.allowed.includes(role));
        // devB owns the targeted objects and admins are allowed platform-wide: their allowed calls are the positive controls below.
        if (roleAllowed && (principal === 'devB' || principal === 'admin')) continue;
        const except = principal === 'devA' ? { consumerId: world.consumerA } : undefined;
        const before = await snapshot(except, spec.createsAccount);
        const call: ActionCall = await callServerAction(portal.url, action, spec.attack(world), {
          cookie: cookieOf(principal),
        });
        const after = await snapshot(except, spec.createsAccount);
        const label = `${action.name} as ${principal}`;
        if (call.result === null) failures.push(`${label}: the action did not run (HTTP ${call.status})`);
        if (!roleAllowed && call.result?.ok !== false)
          failures.push(`${label}: not refused (${JSON.stringify(call.result)})`);
        if (before !== after) failures.push(`${label}: changed data it must not touch`);
        if (call.body.includes(world.keyB.prefix) && principal !== 'devB')
          failures.push(`${label}: leaked B's key`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('server actions refuse a cross-origin call even with a valid session (CSRF)', async () => {
    const revoke = actions.find((a) => a.name === 'revokeApiKeyAction')!;
    const before = await snapshot();
    const call = await callServerAction(
      portal.url,
      revoke,
      { keyId: world.keyB.id },
      { cookie: world.users.devB.cookie, origin: OTHER_ORIGIN },
    );
    expect(call.result?.ok).not.toBe(true);
    expect(await snapshot()).toBe(before);
  });

  it('sign-up ignores role and consumer fields (no mass assignment)', async () => {
    const signUp = actions.find((a) => a.name === 'signUpAction')!;
    const email = `mass-${Date.now()}@example.test`;
    const call = await callServerAction(portal.url, signUp, {
      name: 'Mallory',
      email,
      password: 'long enough password',
      role: 'admin',
      consumerId: world.consumerB,
    });
    expect(call.result?.ok).toBe(true);
    const user = await db.prisma.user.findUniqueOrThrow({ where: { email }, include: { memberships: true } });
    expect(user.role).toBe('developer');
    expect(user.memberships.map((m) => m.consumerId)).not.toContain(world.consumerB);
  });

  it('sign-in is throttled per address and account, even with the right password afterwards', async () => {
    const signIn = actions.find((a) => a.name === 'signInAction')!;
    const email = world.users.finance.email;
    for (let i = 0; i < 5; i++) {
      const r = await callServerAction(portal.url, signIn, { email, password: `wrong-${i}` });
      expect(r.result).toMatchObject({ ok: false, error: 'Email or password is incorrect.' });
    }
    const blocked = await callServerAction(portal.url, signIn, { email, password: PASSWORD });
    expect(blocked.result?.ok).toBe(false);
    expect(String(blocked.result?.error)).toMatch(/Too many failed sign-ins/);
    const other = await callServerAction(portal.url, signIn, {
      email: world.users.admin.email,
      password: PASSWORD,
    });
    expect(other.result?.ok).toBe(true);
  });

  it('pages: each role reads only its pages, and developer A never sees B', async () => {
    const failures: string[] = [];
    const secretsOfB = [world.keyB.prefix, 'Consumer of devB', world.consumerB];
    for (const page of paths.pages) {
      const access = PAGES[page]!;
      for (const principal of PRINCIPALS) {
        if (principal === 'devB') continue; // B reading B is allowed by definition
        const cookie = cookieOf(principal);
        const res = await fetch(`${portal.url}${fill(page)}`, {
          redirect: 'manual',
          headers: cookie ? { cookie } : {},
        });
        const body = await res.text();
        const role = roleOf(principal);
        const allowed =
          access === 'public' ||
          (access === 'dev' && role === 'dev') ||
          (access === 'admin' && role === 'admin') ||
          (access === 'finance' && (role === 'finance' || role === 'admin'));
        const label = `GET ${page} as ${principal}`;
        const redirectedAway =
          res.status >= 300 && res.status < 400
            ? true
            : /http-equiv="refresh" content="\d+;url=\/(signin|forbidden|dashboard|admin|finance)/.test(body);
        if (!allowed) {
          if (!redirectedAway) failures.push(`${label}: not redirected (HTTP ${res.status})`);
          if (body.includes('<h1')) failures.push(`${label}: rendered page content`);
        } else if (res.status !== 200 && !(page === '/' && redirectedAway)) {
          failures.push(`${label}: HTTP ${res.status}`);
        }
        if (principal !== 'admin' && secretsOfB.some((s) => body.includes(s)))
          failures.push(`${label}: shows B's data`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('route handlers: only a valid admin token reaches /admin/v1; sessions, revoked and missing tokens do not', async () => {
    const failures: string[] = [];
    const credentials: { label: string; headers: Record<string, string>; valid: boolean }[] = [
      { label: 'no credential', headers: {}, valid: false },
      {
        label: 'revoked token',
        headers: { authorization: `Bearer ${world.revokedAdminToken}` },
        valid: false,
      },
      { label: 'garbage token', headers: { authorization: 'Bearer not-a-real-token-at-all' }, valid: false },
      ...(['devA', 'devB', 'admin', 'finance'] as const).map((p) => ({
        label: `${p} session cookie`,
        headers: { cookie: world.users[p].cookie, origin: portal.url },
        valid: false,
      })),
    ];
    for (const route of paths.routes) {
      const spec = ROUTES[route]!;
      if (spec.auth !== 'admin-token') continue;
      for (const method of spec.methods) {
        for (const cred of credentials) {
          const before = await snapshot();
          const res = await fetch(`${portal.url}${fill(route)}`, {
            method,
            redirect: 'manual',
            headers: { 'content-type': 'application/json', ...cred.headers },
            ...(method === 'GET'
              ? {}
              : {
                  body: JSON.stringify({
                    name: 'pwned',
                    quota: 1,
                    reason: 'pwned',
                    planId: world.privatePlanId,
                  }),
                }),
          });
          const body = await res.text();
          const label = `${method} ${route} with ${cred.label}`;
          if (res.status !== 401) failures.push(`${label}: HTTP ${res.status}`);
          if (body.includes(world.keyB.prefix) || body.includes('Consumer of devB'))
            failures.push(`${label}: leaked data`);
          if ((await snapshot()) !== before) failures.push(`${label}: changed data`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('route handlers: the finance CSV needs a finance or admin session; the OpenAPI document is public', async () => {
    const statuses: Record<string, number> = {};
    for (const principal of PRINCIPALS) {
      const cookie = cookieOf(principal);
      const res = await fetch(`${portal.url}/finance/usage.csv`, {
        redirect: 'manual',
        headers: cookie ? { cookie } : {},
      });
      statuses[principal] = res.status;
      const text = await res.text();
      if (res.status === 503) expect(text).toMatch(/metering service is unavailable/);
    }
    // metering is deliberately down in this test: allowed roles get the clear 503, never a CSV of someone else's data
    expect(statuses).toEqual({ anonymous: 401, devA: 403, devB: 403, admin: 503, finance: 503 });
    const doc = await fetch(`${portal.url}/admin/v1/openapi.json`);
    expect(doc.status).toBe(200);
    const json = (await doc.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(json.paths).sort()).toEqual(
      Object.keys(ROUTES)
        .filter((r) => ROUTES[r]!.auth === 'admin-token')
        .map((r) => r.replace(/\[(\w+)\]/g, '{$1}'))
        .sort(),
    );
  });

  it('positive controls: the owner and the admin can do what the matrix refused to others', async () => {
    const byName = (n: string) => actions.find((a) => a.name === n)!;
    const ownRevoke = await callServerAction(
      portal.url,
      byName('revokeApiKeyAction'),
      { keyId: world.keyB.id },
      { cookie: world.users.devB.cookie },
    );
    expect(ownRevoke.result).toMatchObject({ ok: true });
    expect(
      (await db.prisma.apiKey.findUniqueOrThrow({ where: { id: world.keyB.id } })).revokedAt,
    ).not.toBeNull();

    const suspend = await callServerAction(
      portal.url,
      byName('suspendConsumerAction'),
      { id: world.consumerB, reason: 'test' },
      { cookie: world.users.admin.cookie },
    );
    expect(suspend.result).toMatchObject({ ok: true });
    expect((await db.prisma.consumer.findUniqueOrThrow({ where: { id: world.consumerB } })).status).toBe(
      'suspended',
    );
    const audit = await db.prisma.auditLog.findFirst({
      where: { action: 'consumer.suspend', targetId: world.consumerB },
    });
    expect(audit?.actorId).toBe(world.users.admin.id);

    const rest = await fetch(`${portal.url}/admin/v1/consumers/${world.consumerB}/reinstate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${world.adminToken}` },
    });
    expect(rest.status).toBe(200);
    expect((await db.prisma.consumer.findUniqueOrThrow({ where: { id: world.consumerB } })).status).toBe(
      'active',
    );
    expect(
      await db.prisma.auditLog.count({ where: { action: 'consumer.reinstate', actorKind: 'admin_token' } }),
    ).toBe(1);
  });
});
