import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressPolicy } from './egress-policy.ts';
import {
  guardedConnector,
  type Resolver,
  UPSTREAM_FORBIDDEN,
  type UpstreamForbiddenError,
} from './guarded-connect.ts';

describe('guarded upstream connections', () => {
  let server: Server;
  let port: number;
  let connections = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => res.end('ok'));
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  function pool(hostname: string, allow: string[], resolve?: Resolver) {
    const refused: UpstreamForbiddenError[] = [];
    const p = new Pool(`http://${hostname}:${port}`, {
      connections: 1,
      connect: guardedConnector({
        policy: new EgressPolicy(allow),
        hostname,
        port,
        timeoutMs: 1000,
        onRefused: (err) => refused.push(err),
        resolve,
      }),
    });
    const get = async () => {
      try {
        const res = await p.request({ path: '/', method: 'GET' });
        await res.body.dump();
        return res.statusCode;
      } catch (err) {
        return (err as { code?: string }).code;
      }
    };
    return { pool: p, refused, get };
  }

  it('an internal IP literal is refused before any connection is made; allowed explicitly, it connects', async () => {
    const before = connections;
    const denied = pool('127.0.0.1', []);
    expect(await denied.get()).toBe(UPSTREAM_FORBIDDEN);
    expect(denied.refused.map((e) => [e.address, e.verdict])).toEqual([['127.0.0.1', 'internal']]);
    expect(connections).toBe(before);
    await denied.pool.close();

    const allowed = pool('127.0.0.1', [`127.0.0.1:${port}`]);
    expect(await allowed.get()).toBe(200);
    expect(connections).toBe(before + 1);
    await allowed.pool.close();
  });

  it('a host name is checked on the addresses it resolves to (localhost is loopback)', async () => {
    const before = connections;
    const denied = pool('localhost', []);
    expect(await denied.get()).toBe(UPSTREAM_FORBIDDEN);
    expect(connections).toBe(before);
    await denied.pool.close();
    const allowed = pool('localhost', [`localhost:${port}`]);
    expect(await allowed.get()).toBe(200);
    await allowed.pool.close();
  });

  it('DNS rebinding: each new connection checks the address it resolves to at that moment', async () => {
    const answers = [
      [{ address: '127.0.0.1', family: 4 }],
      [{ address: '169.254.169.254', family: 4 }],
      [
        { address: '10.0.0.1', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
    ];
    let calls = 0;
    const resolve: Resolver = (_host, _options, callback) => {
      const answer = answers[Math.min(calls++, answers.length - 1)]!;
      queueMicrotask(() => callback(null, answer));
    };
    const rebinding = pool('api.example.test', ['127.0.0.1'], resolve);
    expect(await rebinding.get()).toBe(200);
    // The upstream drops the connection; the next request needs a new one, and the name now
    // points at the metadata service.
    server.closeAllConnections();
    const before = connections;
    expect(await rebinding.get()).toBe(UPSTREAM_FORBIDDEN);
    expect(connections).toBe(before);
    expect(rebinding.refused.map((e) => e.address)).toEqual(['169.254.169.254']);
    // A refused address among allowed ones is dropped: the connection goes to the allowed one.
    server.closeAllConnections();
    expect(await rebinding.get()).toBe(200);
    expect(calls).toBe(3);
    expect(rebinding.refused).toHaveLength(1);
    await rebinding.pool.close();
  });
});
