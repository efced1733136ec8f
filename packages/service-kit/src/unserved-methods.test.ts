import { connect } from 'node:net';
import { TollgateError, toProblem } from '@tollgate/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastifyClientError } from './fastify-client-error.ts';
import { unservedMethods } from './unserved-methods.ts';

/** A service shaped like metering and billing: one error handler rendering problem+json. */
function service(): FastifyInstance {
  const methods = unservedMethods();
  const app = Fastify({ clientErrorHandler: methods.clientErrorHandler });
  methods.install(app);
  app.setErrorHandler((err, _request, reply) => {
    const known = err instanceof TollgateError ? err : (fastifyClientError(err) ?? err);
    const problem = toProblem(known);
    void reply.status(problem.status).type('application/problem+json').send(problem);
  });
  app.get('/v1/things', async () => ({ things: [] }));
  app.post('/v1/things', async () => ({ id: 1 }));
  app.post('/v1/things/:id/pay', async () => ({ paid: true }));
  return app;
}

describe('unservedMethods', () => {
  const app = service();
  beforeAll(() => app.listen({ host: '127.0.0.1', port: 0 }));
  afterAll(() => app.close());

  it('service-method.error: another method on a served path is a 405 problem with Allow', async () => {
    for (const method of ['PUT', 'DELETE', 'TRACE', 'OPTIONS', 'PROPFIND'] as const) {
      const res = await app.inject({ method, url: '/v1/things?x=1' });
      expect([method, res.statusCode]).toEqual([method, 405]);
      expect(res.headers.allow).toBe('GET, HEAD, POST');
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    }
    const param = await app.inject({ method: 'GET', url: '/v1/things/abc/pay' });
    expect([param.statusCode, param.headers.allow]).toEqual([405, 'POST']);
  });

  it('service-method.error: QUERY without a content type is refused as a method, before body parsing', async () => {
    const res = await app.inject({ method: 'QUERY', url: '/v1/things' });
    expect(res.statusCode).toBe(405);
  });

  it('service-method.happy: served methods and unknown paths are untouched', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/things' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/v1/things' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'TRACE', url: '/nowhere' })).statusCode).toBe(404);
  });

  it('service-method.error: a fastify 4xx keeps its status as our kind (413, 415, 400)', async () => {
    const big = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { 'content-type': 'application/json' },
      payload: `{"a":"${'x'.repeat(1_100_000)}"}`,
    });
    expect([big.statusCode, big.json().code]).toEqual([413, 'BODY_TOO_LARGE']);
    const type = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { 'content-type': 'application/x-unknown' },
      payload: 'x',
    });
    expect([type.statusCode, type.json().code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { 'content-type': 'application/json' },
      payload: '{"a":',
    });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'BAD_REQUEST']);
  });

  const raw = (request: string) => {
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    return new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(request));
      let text = '';
      socket.on('data', (d) => {
        text += d;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
  };

  it('service-method.error: CONNECT and methods node:http does not know (TRACK), which fastify never sees, get a 405 with Allow', async () => {
    for (const method of ['CONNECT', 'TRACK', 'BREW']) {
      const answer = await raw(`${method} /v1/things HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect([method, answer.split('\r\n')[0]]).toEqual([method, 'HTTP/1.1 405 Method Not Allowed']);
      expect(answer).toMatch(/\r\nallow: GET, HEAD, POST\r\n/);
      expect(answer).toContain('"code":"METHOD_NOT_ALLOWED"');
    }
    expect((await raw('TRACK /nowhere HTTP/1.1\r\nHost: x\r\n\r\n')).split('\r\n')[0]).toBe(
      'HTTP/1.1 404 Not Found',
    );
  });

  it('service-method.error: other malformed requests still get the bare 4xx node:http gives', async () => {
    expect((await raw('GET /v1/things HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')).split('\r\n')[0]).toBe(
      'HTTP/1.1 400 Bad Request',
    );
  });
});
