import { request } from 'node:http';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActionCall,
  deadServiceUrl,
  ensurePortalBuild,
  listServerActions,
  parseActionResult,
  type RunningPortal,
  type ServerActionRef,
  startPortal,
} from './support/portal.ts';
import { PASSWORD, seedWorld, type World } from './support/world.ts';

/**
 * Portal authentication against the built portal (its server, src/main.ts) and a fresh database, from
 * real socket peers: the test binds its client sockets to different loopback addresses
 * (127.0.0.2, 127.0.0.3, ...), so "another address" is another TCP peer, not a header.
 * - a spoofed X-Forwarded-For from an untrusted peer is ignored: sessions and audit rows get
 *   the socket peer; behind a trusted proxy the right-most untrusted hop is the client;
 * - wrong passwords from one address slow that address down and never lock the account for
 *   another address; the wait grows;
 * - sign-ups are throttled per address, atomically under a flood; password hashing is bounded
 *   (busy is a form error, never a 5xx).
 */

let db: TestDatabase;
let world: World;
let direct: RunningPortal;
let proxied: RunningPortal;
let actions: ServerActionRef[];

interface From {
  /** The client socket's own address: the peer the portal sees. */
  localAddress: string;
  headers?: Record<string, string>;
  cookie?: string;
}

function send(
  portal: RunningPortal,
  path: string,
  init: { method: string; body?: string; headers: Record<string, string>; localAddress: string },
): Promise<{ status: number; body: string }> {
  const url = new URL(path, portal.url);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: init.method, headers: init.headers, localAddress: init.localAddress, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Calls a server action the way the browser does, from the given socket address. */
async function callAction(
  portal: RunningPortal,
  name: string,
  input: unknown,
  from: From,
): Promise<ActionCall> {
  const action = actions.find((a) => a.name === name);
  if (!action) throw new Error(`no server action ${name} in the build`);
  const res = await send(portal, action.path, {
    method: 'POST',
    localAddress: from.localAddress,
    headers: {
      'next-action': action.id,
      'content-type': 'text/plain;charset=UTF-8',
      accept: 'text/x-component',
      origin: portal.url,
      ...(from.cookie ? { cookie: from.cookie } : {}),
      ...from.headers,
    },
    body: JSON.stringify([input]),
  });
  return { status: res.status, result: parseActionResult(res.body), body: res.body };
}

const signIn = (portal: RunningPortal, email: string, password: string, from: From) =>
  callAction(portal, 'signInAction', { email, password }, from);

async function latestSessionIp(userId: string): Promise<string | null> {
  const session = await db.prisma.session.findFirst({ where: { userId }, orderBy: { createdAt: 'desc' } });
  return session?.ip ?? null;
}

/** Seconds named in a "Try again in N seconds" message. */
function waitSeconds(call: ActionCall): number {
  const match = /Try again in (\d+) seconds?/.exec(String(call.result?.error));
  if (!match) throw new Error(`no wait in ${JSON.stringify(call.result)}`);
  return Number(match[1]);
}

beforeAll(async () => {
  await ensurePortalBuild();
  actions = await listServerActions();
  db = await createTestDatabase();
  world = await seedWorld(db.prisma);
  const services = { METERING_URL: await deadServiceUrl(), BILLING_URL: await deadServiceUrl() };
  // Both portals share the database, as two instances would: the throttles hold across them.
  [direct, proxied] = await Promise.all([
    startPortal({
      DATABASE_URL: db.url,
      ...services,
      AUTH_DELAY_BASE_SECONDS: '2',
      SIGN_IN_ADDRESS_FREE_FAILURES: '8',
      SIGN_UP_FREE_PER_ADDRESS: '3',
    }),
    startPortal({
      DATABASE_URL: db.url,
      ...services,
      PORTAL_TRUSTED_PROXIES: '127.0.0.1',
      PASSWORD_HASH_CONCURRENCY: '1',
      PASSWORD_HASH_QUEUE: '1',
    }),
  ]);
}, 600_000);

afterAll(async () => {
  await Promise.all([direct?.stop(), proxied?.stop()]);
  await db?.drop();
});

describe('portal.auth.security: the client address', () => {
  it('a spoofed X-Forwarded-For from an untrusted peer is ignored: the session records the socket peer', async () => {
    const call = await signIn(direct, world.users.devA.email, PASSWORD, {
      localAddress: '127.0.0.2',
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-tollgate-client-forwarded-for': '203.0.113.10' },
    });
    expect(call.result).toMatchObject({ ok: true });
    expect(await latestSessionIp(world.users.devA.id)).toBe('127.0.0.2');
  });

  it('the audit log records the socket peer, from a server action and from the REST API, whatever X-Forwarded-For says', async () => {
    const spoof = { 'x-forwarded-for': '198.51.100.23, 203.0.113.9' };
    const viaAction = await callAction(
      direct,
      'createAdminTokenAction',
      { name: 'spoof-check-ui' },
      { localAddress: '127.0.0.3', cookie: world.users.admin.cookie, headers: spoof },
    );
    expect(viaAction.result).toMatchObject({ ok: true });
    const viaRest = await send(direct, '/admin/v1/tokens', {
      method: 'POST',
      localAddress: '127.0.0.4',
      headers: { authorization: `Bearer ${world.adminToken}`, 'content-type': 'application/json', ...spoof },
      body: JSON.stringify({ name: 'spoof-check-rest' }),
    });
    expect(viaRest.status).toBe(201);
    const rows = await db.prisma.auditLog.findMany({ where: { action: 'admin_token.create' } });
    const ipOf = (name: string) => rows.find((r) => (r.after as { name?: string } | null)?.name === name)?.ip;
    expect(ipOf('spoof-check-ui')).toBe('127.0.0.3');
    expect(ipOf('spoof-check-rest')).toBe('127.0.0.4');
  });

  it('behind a trusted proxy the right-most untrusted hop is the client; what the client wrote left of it is not', async () => {
    const call = await signIn(proxied, world.users.devB.email, PASSWORD, {
      localAddress: '127.0.0.1',
      headers: { 'x-forwarded-for': '10.9.9.9, 198.51.100.7, 127.0.0.1' },
    });
    expect(call.result).toMatchObject({ ok: true });
    expect(await latestSessionIp(world.users.devB.id)).toBe('198.51.100.7');
  });

  it('a peer that is not in the trusted list gets no say, even on the portal that trusts 127.0.0.1', async () => {
    const call = await signIn(proxied, world.users.devB.email, PASSWORD, {
      localAddress: '127.0.0.5',
      headers: { 'x-forwarded-for': '198.51.100.8' },
    });
    expect(call.result).toMatchObject({ ok: true });
    expect(await latestSessionIp(world.users.devB.id)).toBe('127.0.0.5');
  });
});

describe('portal.auth.security: the sign-in throttle', () => {
  it('five wrong passwords from one address do not lock the account for another address', async () => {
    const admin = world.users.admin;
    for (let i = 0; i < 5; i++) {
      const wrong = await signIn(direct, admin.email, `wrong password ${i}`, {
        localAddress: '127.0.0.10',
        // a fresh spoofed address each time: it must not buy a fresh allowance
        headers: { 'x-forwarded-for': `203.0.113.${i + 1}` },
      });
      expect(wrong.result).toEqual({ ok: false, error: 'Email or password is incorrect.' });
    }
    // the attacking address now waits, even with the right password
    const blocked = await signIn(direct, admin.email, PASSWORD, { localAddress: '127.0.0.10' });
    expect(blocked.result?.ok).toBe(false);
    expect(String(blocked.result?.error)).toMatch(
      /^Too many failed sign-ins for this account from your address/,
    );
    // the account's owner, elsewhere, signs in at once, through either portal instance
    const owner = await signIn(direct, admin.email, PASSWORD, { localAddress: '127.0.0.11' });
    expect(owner.result).toMatchObject({ ok: true, redirect: '/admin' });
    expect(await latestSessionIp(admin.id)).toBe('127.0.0.11');
    const ownerElsewhere = await signIn(proxied, admin.email, PASSWORD, {
      localAddress: '127.0.0.1',
      headers: { 'x-forwarded-for': '198.51.100.50' },
    });
    expect(ownerElsewhere.result).toMatchObject({ ok: true });
  });

  it('the wait grows with each further failure and ends: then the right password gets through', async () => {
    const dev = world.users.devA;
    const from = { localAddress: '127.0.0.12' };
    for (let i = 0; i < 5; i++) {
      expect((await signIn(direct, dev.email, 'not the password', from)).result?.error).toBe(
        'Email or password is incorrect.',
      );
    }
    const first = waitSeconds(await signIn(direct, dev.email, 'not the password', from));
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first).toBeLessThanOrEqual(2);
    // retry until admitted (the wait is 2 s here), with a wrong password: counted, and longer
    const deadline = Date.now() + 20_000;
    let next: ActionCall;
    for (;;) {
      next = await signIn(direct, dev.email, 'still not the password', from);
      if (next.result?.error === 'Email or password is incorrect.') break;
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 250));
    }
    const second = waitSeconds(await signIn(direct, dev.email, PASSWORD, from));
    expect(second).toBeGreaterThan(first);
    expect(second).toBeLessThanOrEqual(4);
    for (;;) {
      const ok = await signIn(direct, dev.email, PASSWORD, from);
      if (ok.result?.ok) break;
      expect(String(ok.result?.error)).toMatch(/^Too many failed sign-ins/);
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 250));
    }
    // success cleared this address's count for the account: five more mistakes are free again
    expect((await signIn(direct, dev.email, 'typo', from)).result?.error).toBe(
      'Email or password is incorrect.',
    );
  });

  it('guessing across many accounts from one address is limited per address; other addresses are not', async () => {
    // The instance with the default policy (20 failures per address, then a 30 s wait): the wait
    // outlasts a sign-in however slow scrypt is on a loaded machine. 127.0.0.13 is not one of
    // its trusted proxies, so it is a direct client there.
    const from = { localAddress: '127.0.0.13' };
    for (let i = 0; i < 20; i++) {
      const call = await signIn(proxied, `nobody-${i}@example.test`, 'guess', from);
      expect(call.result?.error).toBe('Email or password is incorrect.');
    }
    const blocked = await signIn(proxied, 'nobody-20@example.test', 'guess', from);
    expect(String(blocked.result?.error)).toMatch(/^Too many failed sign-ins from your address/);
    const other = await signIn(proxied, 'nobody-20@example.test', 'guess', { localAddress: '127.0.0.14' });
    expect(other.result?.error).toBe('Email or password is incorrect.');
  });
});

describe('portal.auth.security: sign-ups and password hashing', () => {
  const signUp = (portal: RunningPortal, tag: string, from: From) =>
    callAction(
      portal,
      'signUpAction',
      {
        name: tag,
        email: `${tag}-${Math.random().toString(36).slice(2)}@example.test`,
        password: 'long enough password',
      },
      from,
    );

  it('a sign-up flood from one address is throttled, exactly at the allowance, and other addresses can still sign up', async () => {
    const before = await db.prisma.user.count();
    const flood = await Promise.all(
      Array.from({ length: 10 }, (_, i) => signUp(direct, `flood${i}`, { localAddress: '127.0.0.20' })),
    );
    const created = flood.filter((c) => c.result?.ok === true);
    const throttled = flood.filter((c) =>
      /^Too many sign-ups from your address/.test(String(c.result?.error)),
    );
    expect(flood.map((c) => c.status).filter((s) => s >= 500)).toEqual([]);
    expect(created).toHaveLength(3);
    expect(throttled).toHaveLength(7);
    expect(await db.prisma.user.count()).toBe(before + 3);
    expect((await signUp(direct, 'elsewhere', { localAddress: '127.0.0.21' })).result).toMatchObject({
      ok: true,
    });
  });

  it('password hashing is bounded: a burst beyond the slots and the queue is told to retry, nothing fails', async () => {
    // unknown accounts are checked against a full-cost dummy hash (N=2^17), so these overlap
    const burst = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        signIn(proxied, `ghost-${i}@example.test`, 'guess', {
          localAddress: '127.0.0.1',
          headers: { 'x-forwarded-for': `198.51.100.${100 + i}` },
        }),
      ),
    );
    expect(burst.map((c) => c.status).filter((s) => s >= 500)).toEqual([]);
    const errors = burst.map((c) => String(c.result?.error));
    const busy = errors.filter((e) => e.startsWith('Too many sign-ins are in progress right now'));
    const checked = errors.filter((e) => e === 'Email or password is incorrect.');
    expect(busy.length + checked.length).toBe(8);
    expect(busy.length).toBeGreaterThan(0);
    expect(checked.length).toBeGreaterThanOrEqual(2);
    // a busy answer was not counted against the address
    const busyAddresses = burst
      .map((c, i) => (String(c.result?.error).startsWith('Too many sign-ins are in progress') ? i : -1))
      .filter((i) => i >= 0)
      .map((i) => `198.51.100.${100 + i}`);
    const rows = await db.prisma.authThrottle.findMany({
      where: { scope: 'sign_in_address', key: { in: busyAddresses } },
    });
    expect(rows.map((r) => r.attempts)).toEqual(rows.map(() => 0));
  });
});
