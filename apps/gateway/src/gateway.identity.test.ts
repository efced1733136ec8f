import type { MemoryUsageSink } from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestGateway,
  type Echo,
  fixtureSnapshot,
  IDS,
  StaticSource,
  startEcho,
} from './testing/fixtures.ts';

describe('gateway.keys', () => {
  let echo: Echo;
  let source: StaticSource;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;

  beforeAll(async () => {
    echo = await startEcho();
    const raw = fixtureSnapshot(echo.url);
    raw.consumers.push({ id: 'grace', status: 'active' }, { id: 'lapsed', status: 'active' });
    const sub = raw.subscriptions[0]!;
    raw.subscriptions.push(
      {
        ...sub,
        id: 'sub-grace',
        consumerId: 'grace',
        status: 'past_due',
        graceUntil: new Date(Date.now() + 3_600_000),
      },
      {
        ...sub,
        id: 'sub-lapsed',
        consumerId: 'lapsed',
        status: 'past_due',
        graceUntil: new Date(Date.now() - 1000),
      },
    );
    source = new StaticSource(raw);
    gw = await buildTestGateway(source);
  });
  afterAll(async () => {
    await gw.close();
    await echo.close();
  });

  const get = (headers: Record<string, string>, url = '/echo/x') =>
    gw.app.inject({ method: 'GET', url, headers });

  it('keys.verify.happy: a valid key from X-API-Key or Authorization: Bearer is admitted, then served from the cache', async () => {
    const { key } = source.addKey(IDS.consumer);
    const before = source.lookups;
    expect((await get({ 'x-api-key': key })).statusCode).toBe(200);
    expect((await get({ authorization: `Bearer ${key}` })).statusCode).toBe(200);
    expect((await get({ authorization: `bearer ${key}` })).statusCode).toBe(200);
    expect(source.lookups - before).toBe(1);
  });

  it('keys.verify.error: a bad checksum is refused without any lookup', async () => {
    const { key } = source.addKey(IDS.consumer);
    const tampered = key.slice(0, 10) + (key[10] === 'A' ? 'B' : 'A') + key.slice(11);
    const before = source.lookups;
    const res = await get({ 'x-api-key': tampered });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="tollgate", error="invalid_token"');
    expect(res.json()).toMatchObject({ status: 401, code: 'KEY_MALFORMED' });
    expect((await get({ 'x-api-key': 'garbage' })).statusCode).toBe(401);
    expect(source.lookups).toBe(before);
  });

  it('keys.verify.error: an unknown key is 401 and the negative answer is cached', async () => {
    const unknown = new StaticSource(fixtureSnapshot(echo.url)).addKey(IDS.consumer).key;
    const before = source.lookups;
    expect((await get({ 'x-api-key': unknown })).statusCode).toBe(401);
    expect((await get({ 'x-api-key': unknown })).statusCode).toBe(401);
    expect(source.lookups - before).toBe(1);
  });

  it('keys.verify.security: revoked and expired keys are 401; the api_keys notification drops the cache at once', async () => {
    const revoked = source.addKey(IDS.consumer, { revokedAt: new Date(Date.now() - 1000) });
    expect((await get({ 'x-api-key': revoked.key })).json().code).toBe('KEY_REVOKED');
    const expired = source.addKey(IDS.consumer, { expiresAt: new Date(Date.now() - 1000) });
    expect((await get({ 'x-api-key': expired.key })).json().code).toBe('KEY_EXPIRED');
    // Expiry is checked against the cached row on every request, not only at lookup.
    const soon = source.addKey(IDS.consumer, { expiresAt: new Date(Date.now() + 300) });
    expect((await get({ 'x-api-key': soon.key })).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 350));
    expect((await get({ 'x-api-key': soon.key })).statusCode).toBe(401);

    const live = source.addKey(IDS.consumer);
    expect((await get({ 'x-api-key': live.key })).statusCode).toBe(200);
    for (const [hash, rec] of source.keys)
      if (rec.id === live.id) source.keys.set(hash, { ...rec, revokedAt: new Date() });
    source.notify('api_keys');
    expect((await get({ 'x-api-key': live.key })).statusCode).toBe(401);
  });

  it('keys.verify.error: no credential, an empty one, or a Basic one is 401', async () => {
    expect((await get({})).statusCode).toBe(401);
    expect((await get({ authorization: 'Basic dXNlcjpwYXNz' })).statusCode).toBe(401);
    expect((await get({ authorization: 'Bearer ' })).statusCode).toBe(401);
    expect((await get({ authorization: 'Bearer a.b' })).statusCode).toBe(401);
  });

  it('a suspended consumer or one without an active subscription is 403; past_due within grace is active', async () => {
    expect((await get({ 'x-api-key': source.addKey(IDS.suspended).key })).json()).toMatchObject({
      status: 403,
      code: 'CONSUMER_SUSPENDED',
    });
    expect((await get({ 'x-api-key': source.addKey(IDS.noSub).key })).json().code).toBe(
      'NO_ACTIVE_SUBSCRIPTION',
    );
    expect((await get({ 'x-api-key': source.addKey('grace').key })).statusCode).toBe(200);
    expect((await get({ 'x-api-key': source.addKey('lapsed').key })).statusCode).toBe(403);
    expect((await get({ 'x-api-key': source.addKey('nobody').key })).json().code).toBe('CONSUMER_UNKNOWN');
  });

  it('a route the plan does not include is 403', async () => {
    const res = await get({ 'x-api-key': source.addKey(IDS.consumer).key }, '/echo/admin/x');
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('NOT_ENTITLED');
  });

  it('401s produce no usage event; 403s produce a non-billable one', async () => {
    const sink = gw.sink as MemoryUsageSink;
    const before = sink.events.length;
    await get({ 'x-api-key': 'tg_live_nope' });
    expect(sink.events.length).toBe(before);
    await get({ 'x-api-key': source.addKey(IDS.consumer).key }, '/echo/admin');
    expect(sink.events.length).toBe(before + 1);
    expect(sink.events.at(-1)!.data).toMatchObject({ status: 403, billable: false, planId: IDS.plan });
  });

  it('while Postgres is down, keys cached earlier keep working and unknown ones get 503', async () => {
    const { key } = source.addKey(IDS.consumer);
    expect((await get({ 'x-api-key': key })).statusCode).toBe(200);
    gw.keys.clear();
    source.failKeys = true;
    try {
      const fresh = source.addKey(IDS.consumer).key;
      expect((await get({ 'x-api-key': fresh })).statusCode).toBe(503);
    } finally {
      source.failKeys = false;
    }
  });
});

describe('gateway.auth-audit', () => {
  it('every route not marked public rejects a request without credentials (generated from the route table)', async () => {
    const echo = await startEcho();
    const source = new StaticSource(fixtureSnapshot(echo.url));
    const gw = await buildTestGateway(source);
    try {
      const routes = gw.controlPlane.current!.routes;
      expect(routes.length).toBeGreaterThan(3);
      for (const route of routes) {
        const methods =
          route.methods === null
            ? ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']
            : [...route.methods];
        for (const method of methods) {
          const path = route.path;
          for (const url of [path, `${path}/sub/path`, `${path}?q=1`]) {
            const res = await gw.app.inject({ method: method as 'GET', url });
            if (route.public) expect(res.statusCode, `${method} ${url}`).not.toBe(401);
            else expect(res.statusCode, `${method} ${url}`).toBe(401);
          }
        }
      }
      expect(echo.requests.every((r) => r.url.startsWith('/public'))).toBe(true);
    } finally {
      await gw.close();
      await echo.close();
    }
  });
});
