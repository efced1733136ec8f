import type { IncomingMessage } from 'node:http';
import { uuidv7 } from '@tollgate/core';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Snapshot } from './control-plane/compile-snapshot.ts';
import { Pipeline, type PipelineDeps } from './handle-request.ts';
import type { GatewayMetrics } from './metrics.ts';
import { acceptableRequestId } from './proxy/trace.ts';

export interface ServerLimits {
  /** Node's maxHeaderSize: larger header blocks get 431. */
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export interface GatewayDeps extends PipelineDeps {
  logger: Logger;
  limits: ServerLimits;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function genReqId(req: IncomingMessage): string {
  return acceptableRequestId(req.headers['x-request-id']) ?? uuidv7();
}

/** Streams the body through untouched: the gateway never parses or buffers request bodies. */
function passThroughBody(
  _req: unknown,
  payload: IncomingMessage,
  done: (err: Error | null, body?: unknown) => void,
) {
  done(null, payload);
}

/**
 * The public proxy app. Never listens (main.ts does; tests use inject() or listen on port 0).
 * Fastify contributes the HTTP server, request ids and error handling; the proxy itself is one
 * catch-all route that hijacks the reply and hands the raw request/response to the Pipeline.
 */
export function buildApp(deps: GatewayDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId,
    requestTimeout: deps.limits.requestTimeoutMs,
    keepAliveTimeout: deps.limits.keepAliveTimeoutMs,
    bodyLimit: 1024,
    return503OnClosing: true,
    http: {
      maxHeaderSize: deps.limits.maxHeaderBytes,
      headersTimeout: deps.limits.headersTimeoutMs,
      requestTimeout: deps.limits.requestTimeoutMs,
      // How often Node enforces the two timeouts above (its default, 30 s, would let a slow
      // client hold a connection up to 30 s past headersTimeout).
      connectionsCheckingInterval: Math.min(1_000, deps.limits.headersTimeoutMs),
    },
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 8192 },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', passThroughBody);
  const pipeline = new Pipeline(deps);
  app.route({
    method: METHODS,
    url: '*',
    exposeHeadRoute: false,
    handler(request, reply) {
      reply.hijack();
      pipeline.handle(request.raw, reply.raw, request.id);
    },
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).type('application/problem+json').send({
      type: 'https://tollgate.dev/problems/not_found',
      title: 'not found',
      status: 404,
      detail: 'No API route matches this request.',
      code: 'ROUTE_NOT_FOUND',
      requestId: request.id,
    });
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status =
      err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'unhandled gateway error');
    void reply
      .code(status)
      .type('application/problem+json')
      .send({
        type: `https://tollgate.dev/problems/${status === 500 ? 'internal' : 'invalid'}`,
        title: status === 500 ? 'internal error' : 'bad request',
        status,
        detail: status === 500 ? 'An unexpected error occurred.' : 'The request is malformed.',
        code: status === 500 ? 'INTERNAL' : (err.code ?? 'BAD_REQUEST'),
        requestId: request.id,
      });
  });
  return app;
}

export interface SinkHealth {
  /** False when the sink can no longer accept events durably. */
  healthy(): boolean;
}

export interface AdminDeps {
  controlPlane: { readonly current: Snapshot | null };
  metrics: GatewayMetrics;
  sinkHealth: SinkHealth;
  logger: Logger;
  /** Set during shutdown: /readyz answers 503 so load balancers drain this instance. */
  isShuttingDown(): boolean;
}

/** The admin app (/healthz, /readyz, /metrics): its own listener, loopback by default. */
export function buildAdminApp(deps: AdminDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, disableRequestLogging: true });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const snapshot = deps.controlPlane.current !== null;
    const sink = deps.sinkHealth.healthy();
    const ready = snapshot && sink && !deps.isShuttingDown();
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not_ready', snapshot, sink, shuttingDown: deps.isShuttingDown() });
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });
  return app;
}
