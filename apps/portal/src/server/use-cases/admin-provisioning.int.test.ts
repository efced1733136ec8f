import { hashApiKey } from '@tollgate/core';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as rotateRoute from '../../app/admin/v1/consumers/[id]/keys/[keyId]/rotate/route.ts';
import * as keyRoute from '../../app/admin/v1/consumers/[id]/keys/[keyId]/route.ts';
import * as keysRoute from '../../app/admin/v1/consumers/[id]/keys/route.ts';
import * as memberRoute from '../../app/admin/v1/consumers/[id]/members/[userId]/route.ts';
import * as membersRoute from '../../app/admin/v1/consumers/[id]/members/route.ts';
import * as consumerRoute from '../../app/admin/v1/consumers/[id]/route.ts';
import * as consumersRoute from '../../app/admin/v1/consumers/route.ts';
import { sha256Hex } from '../crypto.ts';
import { provideDeps } from '../deps.ts';

/**
 * Provisioning through /admin/v1 against a real Postgres, through the route handlers: consumers
 * (externalId unique, cursor pages that neither skip nor repeat), members, every change audited.
 */

type Handler = (request: Request, context: { params: Promise<Record<string, string>> }) => Promise<Response>;

const TOKEN = 'provision-admin-token-0123456789ab';

describe('admin provisioning', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The portal's configuration (read for the client address) needs a database URL.
    process.env.DATABASE_URL = db.url;
    provideDeps({ prisma: db.prisma });
    await db.prisma.adminToken.create({
      data: { name: 'test', tokenHash: sha256Hex(TOKEN), prefix: TOKEN.slice(0, 8) },
    });
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function call(
    handler: unknown,
    method: string,
    body?: unknown,
    params: Record<string, string> = {},
    opts: { query?: string; headers?: Record<string, string>; path?: string } = {},
  ) {
    const request = new Request(
      `http://portal.test${opts.path ?? '/admin/v1/consumers'}${opts.query ?? ''}`,
      {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...opts.headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
    );
    const res = await (handler as Handler)(request, { params: Promise.resolve(params) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? null : JSON.parse(text) };
  }

  it('creates a consumer with an externalId, refuses a second one with 409 naming the first', async () => {
    const res = await call(consumersRoute.POST, 'POST', { name: 'Acme', externalId: 'crm-1' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ name: 'Acme', externalId: 'crm-1', status: 'active', members: [] });
    const again = await call(consumersRoute.POST, 'POST', { name: 'Acme 2', externalId: 'crm-1' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('EXTERNAL_ID_TAKEN');
    expect(again.body.detail).toContain(res.body.id);
    expect(await db.prisma.consumer.count({ where: { name: { startsWith: 'Acme' } } })).toBe(1);
    const found = await call(consumersRoute.GET, 'GET', undefined, {}, { query: '?externalId=crm-1' });
    expect(found.body.consumers.map((c: { id: string }) => c.id)).toEqual([res.body.id]);
    const audit = await db.prisma.auditLog.findMany({
      where: { action: 'consumer.create', targetId: res.body.id },
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actorKind).toBe('admin_token');
    const one = await call(consumerRoute.GET, 'GET', undefined, { id: res.body.id });
    expect(one.body.externalId).toBe('crm-1');
  });

  it('pages through every consumer once, newest first, also when some share a created_at', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await call(consumersRoute.POST, 'POST', { name: `page-${i}` });
      ids.push(res.body.id);
    }
    // Two rows with one timestamp: the id breaks the tie, so neither is skipped or repeated.
    const same = new Date('2026-01-01T00:00:00.000Z');
    await db.prisma.consumer.updateMany({
      where: { id: { in: ids.slice(2, 5) } },
      data: { createdAt: same },
    });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?q=page-&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await call(consumersRoute.GET, 'GET', undefined, {}, { query });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.consumers.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.consumers.map((c: { id: string }) => c.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(4);
    expect(new Set(seen).size).toBe(7);
    expect([...seen].sort()).toEqual([...ids].sort());
    const all = await db.prisma.consumer.findMany({
      where: { name: { startsWith: 'page-' } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    expect(seen).toEqual(all.map((c) => c.id));
    const bad = await call(consumersRoute.GET, 'GET', undefined, {}, { query: '?cursor=bm9wZQ' });
    expect(bad.status).toBe(400);
  });

  it('adds an existing developer by email, refuses unknown emails and staff, removes members', async () => {
    const consumer = (await call(consumersRoute.POST, 'POST', { name: 'Members Inc' })).body;
    const dev = await db.prisma.user.create({
      data: { email: 'dev@members.test', name: 'Dev', passwordHash: 'x', role: 'developer' },
    });
    await db.prisma.user.create({
      data: { email: 'staff@members.test', name: 'Staff', passwordHash: 'x', role: 'admin' },
    });
    const added = await call(membersRoute.POST, 'POST', { email: 'DEV@members.test' }, { id: consumer.id });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body.members).toEqual([
      { role: 'member', user: { id: dev.id, email: dev.email, name: 'Dev' } },
    ]);
    expect(
      (await call(membersRoute.POST, 'POST', { email: 'no@members.test' }, { id: consumer.id })).status,
    ).toBe(404);
    expect(
      (await call(membersRoute.POST, 'POST', { email: 'staff@members.test' }, { id: consumer.id })).status,
    ).toBe(409);
    const other = (await call(consumersRoute.POST, 'POST', { name: 'Other' })).body;
    const twice = await call(membersRoute.POST, 'POST', { email: dev.email }, { id: other.id });
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('MEMBER_OF_ANOTHER_CONSUMER');

    const removed = await call(memberRoute.DELETE, 'DELETE', undefined, { id: consumer.id, userId: dev.id });
    expect(removed.status).toBe(204);
    expect(await db.prisma.consumerMember.count({ where: { consumerId: consumer.id } })).toBe(0);
    expect(
      (await call(memberRoute.DELETE, 'DELETE', undefined, { id: consumer.id, userId: dev.id })).status,
    ).toBe(404);
    const actions = (
      await db.prisma.auditLog.findMany({ where: { targetId: consumer.id }, orderBy: { id: 'asc' } })
    ).map((a) => a.action);
    expect(actions).toEqual(['consumer.create', 'consumer.member_add', 'consumer.member_remove']);
  });

  it('issues keys through the portal key use cases: secret once, cap of 50, rotate, revoke, audited', async () => {
    const consumer = (await call(consumersRoute.POST, 'POST', { name: 'Keys Ltd' })).body;
    const issued = await call(
      keysRoute.POST,
      'POST',
      { name: 'ci', scopes: ['read:echo'] },
      { id: consumer.id },
    );
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    expect(issued.body.secret).toMatch(/^tg_live_/);
    const row = await db.prisma.apiKey.findUniqueOrThrow({ where: { id: issued.body.id } });
    // Stored as the portal stores its keys: only the hash, which the gateway looks the key up by.
    expect(row.hash).toBe(hashApiKey(issued.body.secret));
    expect(row).toMatchObject({ consumerId: consumer.id, scopes: ['read:echo'], revokedAt: null });
    const listed = await call(keysRoute.GET, 'GET', undefined, { id: consumer.id });
    expect(listed.body.keys.map((k: { id: string }) => k.id)).toEqual([issued.body.id]);
    expect(JSON.stringify(listed.body)).not.toContain(issued.body.secret);
    expect(listed.body.keys[0]).not.toHaveProperty('hash');

    // A key of another consumer is not found under this one.
    const other = (await call(consumersRoute.POST, 'POST', { name: 'Other keys' })).body;
    const params = { id: other.id, keyId: issued.body.id };
    expect((await call(keyRoute.DELETE, 'DELETE', undefined, params)).status).toBe(404);
    expect((await call(rotateRoute.POST, 'POST', {}, params)).status).toBe(404);

    const rotated = await call(
      rotateRoute.POST,
      'POST',
      { overlapHours: 0 },
      { id: consumer.id, keyId: issued.body.id },
    );
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(201);
    expect(rotated.body.secret).not.toBe(issued.body.secret);
    expect(new Date(rotated.body.oldKeyExpiresAt).getTime()).toBeLessThanOrEqual(Date.now());
    const revoked = await call(keyRoute.DELETE, 'DELETE', undefined, {
      id: consumer.id,
      keyId: rotated.body.id,
    });
    expect(revoked.status).toBe(204);
    expect(
      (await db.prisma.apiKey.findUniqueOrThrow({ where: { id: rotated.body.id } })).revokedAt,
    ).not.toBeNull();
    expect(
      (await call(keyRoute.DELETE, 'DELETE', undefined, { id: consumer.id, keyId: rotated.body.id })).status,
    ).toBe(204);

    for (let i = 0; i < 50; i++) {
      const res = await call(keysRoute.POST, 'POST', { name: `k${i}` }, { id: consumer.id });
      expect(res.status).toBe(201);
    }
    const over = await call(keysRoute.POST, 'POST', { name: 'k50' }, { id: consumer.id });
    expect(over.status).toBe(409);
    expect(over.body.code).toBe('TOO_MANY_KEYS');
    const actions = (await db.prisma.auditLog.findMany({ where: { targetId: consumer.id } })).map(
      (a) => a.action,
    );
    expect(actions.filter((a) => a === 'api_key.create')).toHaveLength(51);
    expect(actions).toContain('api_key.rotate');
    expect(actions.filter((a) => a === 'api_key.revoke')).toHaveLength(1);

    await db.prisma.consumer.update({ where: { id: other.id }, data: { status: 'suspended' } });
    expect((await call(keysRoute.POST, 'POST', { name: 'x' }, { id: other.id })).status).toBe(403);
  });

  it('Idempotency-Key: same key and body replay the stored answer, another body is a 409', async () => {
    const headers = { 'idempotency-key': 'signup-42' };
    const first = await call(
      consumersRoute.POST,
      'POST',
      { name: 'Idem', externalId: 'idem-1' },
      {},
      { headers },
    );
    expect(first.status).toBe(201);
    const again = await call(
      consumersRoute.POST,
      'POST',
      { name: 'Idem', externalId: 'idem-1' },
      {},
      { headers },
    );
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await db.prisma.consumer.count({ where: { externalId: 'idem-1' } })).toBe(1);
    expect(
      await db.prisma.auditLog.count({ where: { action: 'consumer.create', targetId: first.body.id } }),
    ).toBe(1);

    const other = await call(consumersRoute.POST, 'POST', { name: 'Idem 2' }, {}, { headers });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // The same key on another path is another request too.
    const keysPath = `/admin/v1/consumers/${first.body.id}/keys`;
    const keyPath = await call(
      keysRoute.POST,
      'POST',
      { name: 'Idem', externalId: 'idem-1' },
      { id: first.body.id },
      { headers, path: keysPath },
    );
    expect(keyPath.status).toBe(409);

    // A key's secret is issued once: the replay returns that same key, no second one, and not
    // its secret (never stored: only the key's hash is kept).
    const keyHeaders = { 'idempotency-key': 'key-1' };
    const k1 = await call(
      keysRoute.POST,
      'POST',
      { name: 'once' },
      { id: first.body.id },
      { headers: keyHeaders, path: keysPath },
    );
    const k2 = await call(
      keysRoute.POST,
      'POST',
      { name: 'once' },
      { id: first.body.id },
      { headers: keyHeaders, path: keysPath },
    );
    expect(k1.status).toBe(201);
    expect(typeof k1.body.secret).toBe('string');
    expect(k2.body).toEqual({ ...k1.body, secret: null, secretWithheld: true });
    const stored = await db.prisma.adminIdempotencyKey.findMany({ select: { response: true } });
    expect(stored.some((r) => (r.response ?? '').includes(k1.body.secret))).toBe(false);
    expect(await db.prisma.apiKey.count({ where: { consumerId: first.body.id } })).toBe(1);

    // A 4xx is an answer too: replayed, even after the conflict it reported is gone.
    const dupHeaders = { 'idempotency-key': 'dup-1' };
    const dup = await call(
      consumersRoute.POST,
      'POST',
      { name: 'Dup', externalId: 'idem-1' },
      {},
      { headers: dupHeaders },
    );
    expect(dup.status).toBe(409);
    await db.prisma.consumer.update({ where: { id: first.body.id }, data: { externalId: null } });
    const dupAgain = await call(
      consumersRoute.POST,
      'POST',
      { name: 'Dup', externalId: 'idem-1' },
      {},
      { headers: dupHeaders },
    );
    expect(dupAgain.status).toBe(409);
    expect(dupAgain.body).toEqual(dup.body);

    // Concurrent retries: one runs, the others wait their turn with a 409 or get its answer.
    const raceHeaders = { 'idempotency-key': 'race-1' };
    const raced = await Promise.all(
      Array.from({ length: 5 }, () =>
        call(
          consumersRoute.POST,
          'POST',
          { name: 'Race', externalId: 'race-1' },
          {},
          { headers: raceHeaders },
        ),
      ),
    );
    expect(raced.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(1);
    for (const r of raced) expect([201, 409]).toContain(r.status);
    for (const r of raced.filter((r) => r.status === 409)) expect(r.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    expect(await db.prisma.consumer.count({ where: { externalId: 'race-1' } })).toBe(1);

    const bad = await call(
      consumersRoute.POST,
      'POST',
      { name: 'x' },
      {},
      { headers: { 'idempotency-key': 'has space' } },
    );
    expect(bad.status).toBe(400);
  });
});
