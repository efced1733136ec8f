import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { MemoryUsageSink } from '@tollgate/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildTestGateway,
  fixtureSnapshot,
  IDS,
  StaticSource,
  type TestGatewayOptions,
} from './testing/fixtures.ts';
import { waitFor } from './testing/seed.ts';

/** An upstream that answers only when told to: requests stay in flight as long as a test needs. */
async function startHeldUpstream() {
  const held: ServerResponse[] = [];
  const stats = { started: 0, completedBodies: 0, aborted: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    stats.started++;
    req.on('data', () => {});
    req.on('end', () => stats.completedBodies++);
    req.on('close', () => {
      if (!req.complete) stats.aborted++;
    });
    held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    stats,
    releaseAll() {
      for (const res of held.splice(0)) {
        if (res.destroyed) continue;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      }
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(
  port: number,
  path: string,
  opts: { headers?: Record<string, string>; from?: string; method?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        localAddress: opts.from,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of opened.splice(0).reverse()) await c.close();
});

async function setup(opts: TestGatewayOptions, plan = {}) {
  const upstream = await startHeldUpstream();
  opened.push(upstream);
  const source = new StaticSource(fixtureSnapshot(upstream.url, plan));
  const key = source.addKey(IDS.consumer).key;
  const key2 = source.addKey(IDS.consumer2).key;
  const gw = await buildTestGateway(source, opts);
  opened.push(gw);
  await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (gw.app.server.address() as AddressInfo).port;
  const refused = async (reason: string) =>
    (await gw.metrics.admissionRefused.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  return { upstream, source, key, key2, gw, port, sink: gw.sink as MemoryUsageSink, refused };
}

function problem(r: Reply) {
  expect(r.headers['content-type']).toBe('application/problem+json');
  expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  return JSON.parse(r.body) as { status: number; code: string };
}

describe('gateway.admission: concurrency bounds', () => {
  it('public route: an address has at most maxPerAddress anonymous requests in flight; the next gets 429 with Retry-After, other addresses are unaffected', async () => {
    const { upstream, port, refused } = await setup({ admission: { maxPerAddress: 2 } });
    const first = [
      send(port, '/echo/public/a', { from: '127.0.0.2' }),
      send(port, '/echo/public/b', { from: '127.0.0.2' }),
    ];
    await waitFor(() => upstream.held.length === 2, 5000, 'two anonymous requests in flight');
    const third = await send(port, '/echo/public/c', { from: '127.0.0.2' });
    expect(third.status).toBe(429);
    expect(problem(third)).toMatchObject({ status: 429, code: 'CONCURRENCY_LIMITED', limit: 'concurrency' });
    const other = send(port, '/echo/public/d', { from: '127.0.0.3' });
    await waitFor(() => upstream.held.length === 3, 5000, 'another address admitted');
    upstream.releaseAll();
    expect((await Promise.all([...first, other])).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await refused('address')).toBe(1);
    // Released: the address may send again.
    const again = send(port, '/echo/public/e', { from: '127.0.0.2' });
    await waitFor(() => upstream.held.length === 1, 5000, 'admitted again');
    upstream.releaseAll();
    expect((await again).status).toBe(200);
  });

  it('per consumer: over maxPerConsumer in flight gets 429 before the limiter (quota untouched, event not billable)', async () => {
    const { upstream, port, key, sink, refused } = await setup({ admission: { maxPerConsumer: 2 } });
    const headers = { 'x-api-key': key };
    const admitted = [send(port, '/echo/x/1', { headers }), send(port, '/echo/x/2', { headers })];
    await waitFor(() => upstream.held.length === 2, 5000, 'two requests in flight');
    // From another address: the bound is the consumer's, not the address's.
    const over = await send(port, '/echo/x/3', { headers, from: '127.0.0.4' });
    expect(over.status).toBe(429);
    expect(problem(over)).toMatchObject({ code: 'CONCURRENCY_LIMITED' });
    upstream.releaseAll();
    expect((await Promise.all(admitted)).map((r) => r.status)).toEqual([200, 200]);
    expect(await refused('consumer')).toBe(1);
    const next = send(port, '/echo/x/4', { headers });
    await waitFor(() => upstream.held.length === 1, 5000, 'next request');
    upstream.releaseAll();
    // 1000 − 2 admitted − this one: the refusal took nothing.
    expect((await next).headers['x-ratelimit-remaining']).toBe('997');
    const refusedEvent = sink.events.find((e) => e.data.status === 429)!;
    expect(refusedEvent.data.billable).toBe(false);
  });
});

describe('gateway.admission: fair share of an upstream pool', () => {
  it('a consumer past its share of a busy target gets 429 UPSTREAM_SHARE_EXCEEDED and its unit back; another consumer still gets its share', async () => {
    // 8 connections, share 0.25: S = 2 each, a holder past S only while total < 6.
    const { upstream, port, key, key2, sink, refused } = await setup({ connections: 8 });
    const greedy = Array.from({ length: 6 }, (_, i) =>
      send(port, `/echo/g/${i}`, { headers: { 'x-api-key': key } }),
    );
    await waitFor(() => upstream.held.length === 6, 5000, 'six requests of one consumer in flight');
    const over = await Promise.all(
      [7, 8].map((i) => send(port, `/echo/g/${i}`, { headers: { 'x-api-key': key } })),
    );
    for (const r of over) {
      expect(r.status).toBe(429);
      expect(problem(r)).toMatchObject({ code: 'UPSTREAM_SHARE_EXCEEDED', limit: 'concurrency' });
    }
    const fair = [1, 2].map((i) => send(port, `/echo/f/${i}`, { headers: { 'x-api-key': key2 } }));
    await waitFor(() => upstream.held.length === 8, 5000, "the other consumer's share");
    upstream.releaseAll();
    expect((await Promise.all([...greedy, ...fair])).map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(await refused('upstream_share')).toBe(2);
    // The two refusals were counted by the limiter, then refunded: 1000 − 6 − this one.
    const next = send(port, '/echo/g/9', { headers: { 'x-api-key': key } });
    await waitFor(() => upstream.held.length === 1, 5000, 'next request');
    upstream.releaseAll();
    expect((await next).headers['x-ratelimit-remaining']).toBe('993');
    const refusedEvents = sink.events.filter((e) => e.data.status === 429);
    expect(refusedEvents.length).toBe(2);
    for (const e of refusedEvents) expect(e.data.billable).toBe(false);
  });

  it('anonymous traffic is one holder: past its share of a busy target, 503 UPSTREAM_BUSY; a paying consumer still gets its share', async () => {
    const { upstream, port, key, refused } = await setup({ connections: 8 });
    const anonymous = Array.from({ length: 6 }, (_, i) =>
      send(port, `/echo/public/${i}`, { from: `127.0.0.${10 + i}` }),
    );
    await waitFor(() => upstream.held.length === 6, 5000, 'six anonymous requests in flight');
    const busy = await send(port, '/echo/public/7', { from: '127.0.0.30' });
    expect(busy.status).toBe(503);
    expect(problem(busy)).toMatchObject({ code: 'UPSTREAM_BUSY' });
    const paying = [1, 2].map((i) => send(port, `/echo/p/${i}`, { headers: { 'x-api-key': key } }));
    await waitFor(() => upstream.held.length === 8, 5000, "the paying consumer's share");
    upstream.releaseAll();
    expect((await Promise.all([...anonymous, ...paying])).map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(await refused('upstream_busy')).toBe(1);
  });
});

/** A raw HTTP/1.1 request whose body is written by the test, a few bytes at a time. */
function rawRequest(port: number, head: string) {
  const socket = connect({ host: '127.0.0.1', port });
  let response = '';
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    response += d;
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  socket.write(head);
  return {
    socket,
    response: () => response,
    closed: () => closed,
    status: () => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0),
    body: () => response.slice(response.indexOf('\r\n\r\n') + 4),
  };
}

describe('gateway.admission: minimum request-body rate', () => {
  it('a body trickling below the rate gets 408 BODY_TOO_SLOW, the upstream request is aborted, nothing counts; a body at a sane rate passes', async () => {
    const { upstream, port, key, sink, gw } = await setup({ bodyRate: { minBytesPerS: 2000, graceMs: 300 } });
    const slow = rawRequest(
      port,
      `POST /echo/upload HTTP/1.1\r\nhost: x\r\nx-api-key: ${key}\r\ncontent-length: 100000\r\n\r\n`,
    );
    // 10 bytes per 50 ms = 200 B/s, a tenth of the minimum.
    const trickle = setInterval(() => slow.socket.write('x'.repeat(10)), 50);
    try {
      // (undici sends the upstream request's head with the first body bytes.)
      await waitFor(() => upstream.stats.started === 1, 5000, 'the upstream request');
      await waitFor(() => slow.status() !== 0, 5000, 'the slow body cut off');
    } finally {
      clearInterval(trickle);
    }
    expect(slow.status()).toBe(408);
    expect(slow.response()).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(slow.body())).toMatchObject({ status: 408, code: 'BODY_TOO_SLOW' });
    await waitFor(() => upstream.stats.aborted === 1, 5000, 'the upstream request aborted');
    expect(upstream.stats.completedBodies).toBe(0);
    expect((await gw.metrics.slowBodies.get()).values[0]?.value).toBe(1);
    const event = sink.events.find((e) => e.data.status === 408)!;
    expect(event.data.billable).toBe(false);

    // 2000 bytes per 50 ms: 40 kB/s, twenty times the minimum, for a second.
    const fast = rawRequest(
      port,
      `POST /echo/upload HTTP/1.1\r\nhost: x\r\nx-api-key: ${key}\r\ncontent-length: 40000\r\nconnection: close\r\n\r\n`,
    );
    let sent = 0;
    const steady = setInterval(() => {
      if (sent < 40_000) {
        fast.socket.write('y'.repeat(2000));
        sent += 2000;
      }
    }, 50);
    try {
      await waitFor(() => upstream.stats.completedBodies === 1, 10_000, 'the fast body complete');
    } finally {
      clearInterval(steady);
    }
    upstream.releaseAll();
    await waitFor(() => fast.status() !== 0, 5000, 'the fast answer');
    expect(fast.status()).toBe(200);
    // The slow request's unit was refunded: 1000 − the fast one.
    expect(fast.response()).toMatch(/x-ratelimit-remaining: 999/i);
    expect((await gw.metrics.slowBodies.get()).values[0]?.value).toBe(1);
    fast.socket.destroy();
    slow.socket.destroy();
  });

  it('a slow body on a public route is cut too', async () => {
    const { upstream, port } = await setup({ bodyRate: { minBytesPerS: 2000, graceMs: 200 } });
    const slow = rawRequest(
      port,
      'POST /echo/public/form HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n\r\n',
    );
    const trickle = setInterval(() => slow.socket.write('z'), 50);
    try {
      await waitFor(() => upstream.stats.started === 1, 5000, 'the upstream request');
      await waitFor(() => slow.status() !== 0, 5000, 'the slow body cut off');
    } finally {
      clearInterval(trickle);
    }
    expect(slow.status()).toBe(408);
    await waitFor(() => upstream.stats.aborted === 1, 5000, 'the upstream request aborted');
    slow.socket.destroy();
  });
});

describe('gateway.admission: a body over the limit after the upstream answered', () => {
  it('counts: the upstream served the request (before it answered, the same body gets 413 and counts nothing)', async () => {
    // An upstream that answers at once (chunked, unfinished) and reads the body as it comes.
    const early = createServer((req, res) => {
      if (req.url?.startsWith('/late')) {
        req.resume();
        return;
      }
      if (req.url?.startsWith('/done')) {
        res.writeHead(200, { 'content-length': '2' });
        res.end('ok');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part of a streamed answer');
      req.resume();
    });
    await new Promise<void>((r) => early.listen(0, '127.0.0.1', r));
    opened.push({
      close: () =>
        new Promise<void>((r) => {
          early.closeAllConnections();
          early.close(() => r());
        }),
    });
    const source = new StaticSource(
      fixtureSnapshot(`http://127.0.0.1:${(early.address() as AddressInfo).port}`),
    );
    const { key } = source.addKey(IDS.consumer);
    const gw = await buildTestGateway(source);
    opened.push(gw);
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (gw.app.server.address() as AddressInfo).port;
    const sink = gw.sink as MemoryUsageSink;

    const res = rawRequest(
      port,
      `POST /echo/stream HTTP/1.1\r\nhost: x\r\nx-api-key: ${key}\r\ntransfer-encoding: chunked\r\n\r\n`,
    );
    const chunk = (n: number) => `${n.toString(16)}\r\n${'b'.repeat(n)}\r\n`;
    res.socket.write(chunk(100));
    await waitFor(() => res.response().includes('first part'), 5000, 'the upstream answer started');
    // Past the API's 1 MiB limit.
    for (let i = 0; i < 20; i++) res.socket.write(chunk(64 * 1024));
    await waitFor(() => res.closed(), 5000, 'the cut-off answer');
    expect(res.status()).toBe(200);
    await waitFor(() => sink.events.length === 1, 5000, 'the event');
    expect(sink.events[0]!.data).toMatchObject({ status: 200, billable: true });

    // The same body when the upstream has not answered yet: 413, refunded, not billable.
    const late = rawRequest(
      port,
      `POST /echo/late HTTP/1.1\r\nhost: x\r\nx-api-key: ${key}\r\ntransfer-encoding: chunked\r\n\r\n`,
    );
    for (let i = 0; i < 20; i++) late.socket.write(chunk(64 * 1024));
    await waitFor(() => late.status() !== 0, 5000, 'the 413');
    expect(late.status()).toBe(413);
    await waitFor(() => sink.events.length === 2, 5000, 'the second event');
    expect(sink.events[1]!.data).toMatchObject({ status: 413, billable: false });
    late.socket.destroy();
    res.socket.destroy();
    // The served one counted, the refused one was refunded: 1000 − 1 − this one.
    const after = await send(port, '/echo/done', { headers: { 'x-api-key': key } });
    expect(after.headers['x-ratelimit-remaining']).toBe('998');
  });
});
