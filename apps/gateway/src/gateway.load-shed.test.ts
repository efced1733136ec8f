import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type LimitDecision,
  type Limiter,
  type LimitRequest,
  MemoryLimiter,
  type MemoryUsageSink,
} from '@tollgate/core';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadShedder } from './enforcement/load-shed.ts';
import { createMetrics } from './metrics.ts';
import { RequestRecord } from './request-record.ts';
import {
  buildTestGateway,
  fixtureSnapshot,
  IDS,
  StaticSource,
  type TestGatewayOptions,
} from './testing/fixtures.ts';
import { waitFor } from './testing/seed.ts';

/** An upstream that holds every request until released. */
async function startHeldUpstream() {
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    releaseAll() {
      for (const res of held.splice(0)) {
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

/** Counts the limiter calls (and can make them fail like a timed-out Redis call). */
class CountingLimiter implements Limiter {
  calls = 0;
  failWith: Error | null = null;
  private readonly inner = new MemoryLimiter();

  check(req: LimitRequest): Promise<LimitDecision> {
    this.calls++;
    if (this.failWith !== null) return Promise.reject(this.failWith);
    return this.inner.check(req);
  }

  refund(req: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>): Promise<void> {
    return this.inner.refund(req);
  }
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
  const limiter = (opts.limiter as CountingLimiter | undefined) ?? new CountingLimiter();
  const gw = await buildTestGateway(source, { ...opts, limiter });
  opened.push(gw);
  await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
  const counter = async (name: string, label: string, value: string) => {
    const metric = gw.metrics.registry.getSingleMetric(name);
    if (metric === undefined) throw new Error(`no metric ${name}`);
    const got = (await metric.get()) as { values: { labels: Record<string, string>; value: number }[] };
    return got.values.find((v) => v.labels[label] === value)?.value ?? 0;
  };
  const get = async (path: string) => {
    const res = await request(`${url}${path}`, { headers: { 'x-api-key': key } });
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body };
  };
  return { upstream, gw, url, key, limiter, counter, get, sink: gw.sink as MemoryUsageSink };
}

describe('gateway.load-shed: the gateway refuses what it cannot take, first and by its own rule', () => {
  it('at its in-flight bound: 503 OVERLOADED + Retry-After before identity and limits (no limiter call, no upstream request); room again once requests finish', async () => {
    const { upstream, limiter, counter, get } = await setup({ loadShed: { maxInFlight: 2 } });
    const first = [get('/echo/a'), get('/echo/b')];
    await waitFor(() => upstream.held.length === 2, 5000, 'two requests in flight');
    const callsBefore = limiter.calls;
    const shed = await get('/echo/c');
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(shed.body)).toMatchObject({ status: 503, code: 'OVERLOADED' });
    expect(limiter.calls).toBe(callsBefore);
    expect(upstream.held.length).toBe(2);
    expect(await counter('tollgate_gateway_shed_total', 'reason', 'in_flight')).toBe(1);
    upstream.releaseAll();
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
    const next = get('/echo/d');
    await waitFor(() => upstream.held.length === 1, 5000, 'admitted again');
    upstream.releaseAll();
    expect((await next).status).toBe(200);
  });

  it('a saturated event loop: new requests get 503 OVERLOADED by the loop-lag rule, not limiter timeouts; served again once the loop is free', async () => {
    const { upstream, limiter, counter, get, gw } = await setup({
      loadShed: { maxLoopLagMs: 5, minInFlight: 0 },
    });
    // Saturate this process's loop (the gateway runs in it): 30 ms of work in every turn.
    let saturating = true;
    const burn = () => {
      const until = performance.now() + 30;
      while (performance.now() < until) {}
      if (saturating) setImmediate(burn);
    };
    burn();
    try {
      await waitFor(() => gw.app.shedding, 10_000, 'the gateway sheds');
      const callsBefore = limiter.calls;
      const shed = await get('/echo/x');
      expect(shed.status).toBe(503);
      expect(shed.headers['retry-after']).toBe('1');
      expect(JSON.parse(shed.body)).toMatchObject({ code: 'OVERLOADED' });
      expect(limiter.calls).toBe(callsBefore);
      expect(await counter('tollgate_gateway_shed_total', 'reason', 'loop_lag')).toBeGreaterThanOrEqual(1);
    } finally {
      saturating = false;
    }
    await waitFor(() => !gw.app.shedding, 10_000, 'shedding stops');
    const served = get('/echo/y');
    await waitFor(() => upstream.held.length === 1, 5000, 'admitted again');
    upstream.releaseAll();
    expect((await served).status).toBe(200);
    expect(await counter('tollgate_gateway_limiter_timeouts_total', 'outcome', '503')).toBe(0);
  });

  it('limiter timeouts are counted apart: 503 LIMITER_UNAVAILABLE under fail_closed, the fallback limiter under fail_open', async () => {
    const timeout = new Error('redis limiter check timed out after 50 ms');
    const closed = await setup({});
    closed.limiter.failWith = timeout;
    const refused = await closed.get('/echo/t');
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'LIMITER_UNAVAILABLE' });
    expect(await closed.counter('tollgate_gateway_limiter_timeouts_total', 'outcome', '503')).toBe(1);
    // Another failure is not a timeout.
    closed.limiter.failWith = new Error('ECONNRESET');
    expect((await closed.get('/echo/t')).status).toBe(503);
    expect(await closed.counter('tollgate_gateway_limiter_timeouts_total', 'outcome', '503')).toBe(1);

    const open = await setup({}, { redisFailurePolicy: 'fail_open' });
    open.limiter.failWith = timeout;
    const served = open.get('/echo/t');
    await waitFor(() => open.upstream.held.length === 1, 5000, 'admitted by the fallback limiter');
    open.upstream.releaseAll();
    expect((await served).status).toBe(200);
    expect(await open.counter('tollgate_gateway_limiter_timeouts_total', 'outcome', 'fail_open')).toBe(1);
  });

  it('a limiter that decides synchronously (a held lease) admits and refuses with no round trip, exactly like a promised decision', async () => {
    const inner = new MemoryLimiter();
    let calls = 0;
    // The leasing limiter's port: check returns the decision itself while a lease holds units.
    const sync = {
      check(req: LimitRequest): LimitDecision {
        calls++;
        return inner.checkSync(req);
      },
      refund: (req: Pick<LimitRequest, 'subject' | 'cost' | 'quota'>) => inner.refund(req),
    } as unknown as Limiter;
    const { upstream, get, sink } = await setup({ limiter: sync }, { quota: 2 });
    for (const path of ['/echo/1', '/echo/2']) {
      const served = get(path);
      await waitFor(() => upstream.held.length === 1, 5000, 'admitted');
      upstream.releaseAll();
      const res = await served;
      expect(res.status).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe('2');
    }
    const over = await get('/echo/3');
    expect(over.status).toBe(429);
    expect(JSON.parse(over.body)).toMatchObject({ code: 'QUOTA_EXCEEDED', limit: 'quota' });
    expect(calls).toBe(3);
    expect(sink.events.map((e) => [e.data.status, e.data.billable])).toEqual([
      [200, true],
      [200, true],
      [429, false],
    ]);
  });
});

describe('LoadShedder: the loop-lag rule', () => {
  const record = () =>
    new RequestRecord({ method: 'GET', headers: {} } as IncomingMessage, {} as ServerResponse, 'r1');

  it('one long turn (a GC pause, a burst) does not shed; a lag that lasts while the loop is busy does', () => {
    const s = new LoadShedder({ maxInFlight: 0, maxLoopLagMs: 20, minInFlight: 0 }, createMetrics());
    s.observe(60, 1);
    expect(s.isShedding).toBe(false);
    expect(s.enter(record())).toBeNull();
    for (let i = 0; i < 3; i++) s.observe(0, 0.5);
    for (let i = 0; i < 6; i++) s.observe(30, 1);
    expect(s.isShedding).toBe(true);
    expect(s.enter(record())?.code).toBe('OVERLOADED');
    // Load gone: the smoothed lag decays and admission resumes.
    for (let i = 0; i < 10; i++) s.observe(0, 0.2);
    expect(s.isShedding).toBe(false);
    s.close();
  });

  it('a lagging but mostly idle loop (an overcommitted machine, not a saturated gateway) does not shed', () => {
    const s = new LoadShedder({ maxInFlight: 0, maxLoopLagMs: 20, minInFlight: 0 }, createMetrics());
    for (let i = 0; i < 20; i++) s.observe(40, 0.3);
    expect(s.isShedding).toBe(false);
    s.close();
  });

  it('a lagging busy loop with few requests in flight (not saturated by requests) does not shed them', () => {
    const s = new LoadShedder({ maxInFlight: 0, maxLoopLagMs: 20, minInFlight: 3 }, createMetrics());
    for (let i = 0; i < 10; i++) s.observe(40, 1);
    expect(s.enter(record())).toBeNull();
    expect(s.enter(record())).toBeNull();
    expect(s.enter(record())).toBeNull();
    // Three in flight: the floor is reached, the next one is shed.
    expect(s.isShedding).toBe(true);
    expect(s.enter(record())?.code).toBe('OVERLOADED');
    s.close();
  });

  it('requests whose body is still arriving (a slow-body attack) do not count toward the floor', () => {
    const arriving = { size: 0 };
    const s = new LoadShedder(
      { maxInFlight: 0, maxLoopLagMs: 20, minInFlight: 3 },
      createMetrics(),
      arriving,
    );
    for (let i = 0; i < 10; i++) s.observe(40, 1);
    // Three slow-body requests park in flight (each watched once it is on its way).
    for (let i = 0; i < 3; i++) {
      expect(s.enter(record())).toBeNull();
      arriving.size++;
    }
    // Two more the loop works for: five in flight, two working, under the floor.
    expect(s.enter(record())).toBeNull();
    expect(s.enter(record())).toBeNull();
    expect(s.isShedding).toBe(false);
    expect(s.enter(record())).toBeNull();
    // Six in flight, three working: the floor is reached.
    expect(s.isShedding).toBe(true);
    expect(s.enter(record())?.code).toBe('OVERLOADED');
    s.close();
  });

  it('in-flight accounting: enter counts, leave gives back, the bound refuses', () => {
    const s = new LoadShedder({ maxInFlight: 1, maxLoopLagMs: 0 }, createMetrics());
    const a = record();
    expect(s.enter(a)).toBeNull();
    expect(a.inFlight).toBe(true);
    expect(s.enter(record())?.status).toBe(503);
    s.leave();
    expect(s.inFlight).toBe(0);
    expect(s.enter(record())).toBeNull();
    s.close();
  });
});
