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

describe('gateway.proxy.happy', () => {
  let echo: Echo;
  let source: StaticSource;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let key: string;

  beforeAll(async () => {
    echo = await startEcho();
    source = new StaticSource(fixtureSnapshot(echo.url));
    key = source.addKey(IDS.consumer).key;
    gw = await buildTestGateway(source);
  });
  afterAll(async () => {
    await gw.close();
    await echo.close();
  });

  it('forwards an authenticated request with the base path stripped and rate-limit headers set', async () => {
    const res = await gw.app.inject({
      method: 'GET',
      url: '/echo/things?x=1',
      headers: { 'x-api-key': key },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.url).toBe('/things?x=1');
    expect(body.headers.host).toBe('echo.internal');
    expect(body.headers['x-api-key']).toBeUndefined();
    expect(body.headers['x-tollgate-consumer']).toBe(IDS.consumer);
    expect(body.headers['x-tollgate-plan']).toBe('starter');
    expect(res.headers['ratelimit-policy']).toMatch(/^"quota";q=1000;w=\d+$/);
    expect(res.headers.ratelimit).toMatch(/^"quota";r=999;t=\d+$/);
    expect(res.headers['x-ratelimit-remaining']).toBe('999');
    expect(res.headers['x-upstream-hop']).toBeUndefined();
    const events = (gw.sink as MemoryUsageSink).events;
    expect(events.length).toBe(1);
    expect(events[0]!.data).toMatchObject({
      status: 200,
      billable: true,
      units: 1,
      bytesOut: res.rawPayload.length,
    });
  });

  it('rejects a missing credential with 401 and WWW-Authenticate', async () => {
    const res = await gw.app.inject({ method: 'GET', url: '/echo/things' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('Bearer realm="tollgate"');
    expect(res.headers['content-type']).toBe('application/problem+json');
  });

  it('streams a POST body', async () => {
    const res = await gw.app.inject({
      method: 'POST',
      url: '/echo/heavy',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ a: 'x'.repeat(5000) }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().bodyBytes).toBeGreaterThan(5000);
    expect(res.json().headers.authorization).toBeUndefined();
  });
});
