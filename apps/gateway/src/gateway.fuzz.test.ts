import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestGateway,
  type Echo,
  fixtureSnapshot,
  IDS,
  StaticSource,
  startEcho,
} from './testing/fixtures.ts';

/**
 * Sends raw bytes and returns the status code of the first response (null: none). `halfClose`
 * sends FIN after the bytes (a truncated request: Node aborts it, so no response is expected).
 */
function rawExchange(port: number, payload: Buffer, halfClose: boolean): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve(m === null ? null : Number(m[1]));
    };
    socket.setTimeout(halfClose ? 1000 : 5000, finish);
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', () => {
      socket.write(payload, () => {
        if (halfClose) socket.end();
      });
    });
  });
}

const tokenChar = fc.constantFrom(
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*#%'.split(''),
);
const anyChar = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));

const method = fc.oneof(
  { arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'), weight: 8 },
  fc.constantFrom(
    'GET',
    'POST',
    'PUT',
    'DELETE',
    'PATCH',
    'HEAD',
    'OPTIONS',
    'TRACE',
    'CONNECT',
    'PROPFIND',
    'get',
    'G ET',
    '',
  ),
  fc.string({ unit: tokenChar, maxLength: 20 }),
  fc.string({ unit: anyChar, maxLength: 10 }),
);
const cleanChar = fc.constantFrom(
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~'.split(''),
);
const pathSegment = fc.oneof(
  { arbitrary: fc.string({ unit: cleanChar, maxLength: 12 }), weight: 10 },
  fc.constantFrom(
    'echo',
    'public',
    'heavy',
    'slow',
    'admin',
    '..',
    '.',
    '%2e%2e',
    '%00',
    '%',
    '%zz',
    '//',
    '\\',
    '?',
    '#',
    ';',
    '',
  ),
  fc.string({ unit: tokenChar, maxLength: 12 }),
  fc.string({ unit: anyChar, maxLength: 6 }),
);
const path = fc.oneof(
  { arbitrary: fc.array(pathSegment, { maxLength: 8 }).map((s) => `/echo/${s.join('/')}`), weight: 6 },
  fc.array(pathSegment, { maxLength: 8 }).map((s) => `/${s.join('/')}`),
  fc.string({ unit: anyChar, maxLength: 40 }),
  fc.constantFrom('*', 'http://evil.example/echo/x', '/echo/x?a=%ZZ&b', `/echo/${'a'.repeat(5000)}`),
);
const printable = fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c));
const header = fc.oneof(
  {
    arbitrary: fc.tuple(
      fc.string({ unit: tokenChar, minLength: 1, maxLength: 20 }),
      fc.string({ unit: printable, maxLength: 60 }),
    ),
    weight: 4,
  },
  fc.tuple(
    fc.string({ unit: tokenChar, minLength: 1, maxLength: 20 }),
    fc.string({ unit: anyChar, maxLength: 60 }),
  ),
  fc.tuple(
    fc.constantFrom(
      'Content-Length',
      'Transfer-Encoding',
      'Connection',
      'Host',
      'X-API-Key',
      'Authorization',
      'Expect',
      'Upgrade',
      'Traceparent',
      'X-Forwarded-For',
      'Content-Type',
      'TE',
    ),
    fc.oneof(
      fc.constantFrom(
        'chunked',
        '-1',
        '99999999999999999999',
        '0',
        'close',
        'keep-alive, x-a',
        '100-continue',
        'h2c',
        'Bearer a.b.c',
        'Bearer tg_live_x',
        '',
      ),
      fc.string({ unit: anyChar, maxLength: 40 }),
    ),
  ),
);

describe('gateway.fuzz', () => {
  let echo: Echo;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let port: number;
  let key: string;

  beforeAll(async () => {
    echo = await startEcho();
    const source = new StaticSource(fixtureSnapshot(echo.url, { quota: null }));
    key = source.addKey(IDS.consumer).key;
    gw = await buildTestGateway(source);
    await gw.app.listen({ port: 0, host: '127.0.0.1' });
    port = (gw.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await gw.close();
    await echo.close();
  });

  it('malformed methods, paths, headers and bodies: no 5xx from the gateway itself, no crash, bounded memory', async () => {
    const rssBefore = process.memoryUsage().rss;
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        method,
        path,
        fc.array(header, { maxLength: 4 }),
        fc.boolean(),
        fc.uint8Array({ maxLength: 2048 }),
        fc.constantFrom('exact', 'none', 'short', 'chunked'),
        async (m, p, headers, withKey, body, framing) => {
          let head = `${m} ${p} HTTP/1.1\r\nHost: gw.test\r\n`;
          if (withKey) head += `X-API-Key: ${key}\r\n`;
          for (const [n, v] of headers) head += `${n}: ${v}\r\n`;
          let bodyBuf = Buffer.from(body);
          if (framing === 'exact') head += `Content-Length: ${body.length}\r\n`;
          else if (framing === 'short') head += `Content-Length: ${body.length + 10}\r\n`;
          else if (framing === 'chunked') {
            head += 'Transfer-Encoding: chunked\r\n';
            bodyBuf = Buffer.concat([
              Buffer.from(`${body.length.toString(16)}\r\n`),
              bodyBuf,
              Buffer.from('\r\n0\r\n\r\n'),
            ]);
          }
          head += 'Connection: close\r\n\r\n';
          const status = await rawExchange(
            port,
            Buffer.concat([Buffer.from(head, 'latin1'), bodyBuf]),
            framing === 'short',
          );
          const k = String(status);
          statuses.set(k, (statuses.get(k) ?? 0) + 1);
          // The echo upstream never fails, so any 5xx here would be the gateway's own.
          expect(
            status === null || status < 500,
            `${JSON.stringify(m)} ${JSON.stringify(p)} → ${status}`,
          ).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
    // Still serving normally afterwards.
    const ok = await gw.app.inject({ method: 'GET', url: '/echo/after', headers: { 'x-api-key': key } });
    expect(ok.statusCode).toBe(200);
    const grownMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    expect(grownMb).toBeLessThan(200);
    // A good share of the cases must have reached the pipeline (past Node's HTTP parser) and
    // some must have been proxied, for the run to mean anything.
    const reached = ['200', '401', '403', '404', '413', '429'].reduce(
      (n, s) => n + (statuses.get(s) ?? 0),
      0,
    );
    expect(reached, JSON.stringify([...statuses])).toBeGreaterThan(200);
    expect(statuses.get('200') ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(30);
  }, 180_000);
});
