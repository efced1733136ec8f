import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { uuidv7 } from '@tollgate/core';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { InjectOptions, Response as InjectResponse } from 'light-my-request';
import type { Logger } from 'pino';
import type { Snapshot } from './control-plane/compile-snapshot.ts';
import { type HandlerDeps, RequestHandler } from './handle-request.ts';
import type { GatewayMetrics } from './metrics.ts';
import { acceptableRequestId } from './proxy/trace.ts';

export interface ServerLimits {
  /** Node's maxHeaderSize: larger header blocks get 431. */
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export interface GatewayDeps extends HandlerDeps {
  limits: ServerLimits;
}

const CLOSING_BODY = JSON.stringify({
  type: 'https://tollgate.dev/problems/unavailable',
  title: 'unavailable',
  status: 503,
  detail: 'The gateway is shutting down.',
  code: 'SHUTTING_DOWN',
});
const INTERNAL_BODY = JSON.stringify({
  type: 'https://tollgate.dev/problems/internal',
  title: 'internal error',
  status: 500,
  detail: 'An unexpected error occurred.',
  code: 'INTERNAL',
});

/**
 * The public proxy listener: a bare node:http server whose request handler is RequestHandler
 * (handle-request.ts).
 * (It was a fastify app with one catch-all route that hijacked every reply; fastify's request
 * and reply objects, router and hooks cost CPU on every call and gave the proxy nothing.)
 * Node itself answers malformed requests (400), oversized header blocks (431) and slow headers
 * (408). Never listens by itself: main.ts does; tests use inject() or listen on port 0.
 */
export class ProxyServer {
  readonly server: Server;
  private readonly requests: RequestHandler;
  private closing = false;

  constructor(private readonly deps: GatewayDeps) {
    const limits = deps.limits;
    this.requests = new RequestHandler(deps);
    this.server = createServer(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        // How often Node enforces the two timeouts above (its default, 30 s, would let a slow
        // client hold a connection up to 30 s past headersTimeout).
        connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
      },
      this.handle,
    );
    this.server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  }

  /** The request handler (also what inject() drives). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const incomingId = acceptableRequestId(req.headers['x-request-id']);
    if (this.closing) {
      const requestId = incomingId ?? uuidv7();
      // A request on a kept-alive connection after shutdown began: tell the client to go elsewhere.
      res.writeHead(503, {
        'content-type': 'application/problem+json',
        'content-length': Buffer.byteLength(CLOSING_BODY),
        'retry-after': '1',
        'x-request-id': requestId,
        connection: 'close',
      });
      res.end(CLOSING_BODY);
      return;
    }
    try {
      this.requests.handle(req, res, incomingId);
    } catch (err) {
      const requestId = incomingId ?? uuidv7();
      this.deps.logger.error({ err, reqId: requestId }, 'unhandled gateway error');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(500, {
        'content-type': 'application/problem+json',
        'content-length': Buffer.byteLength(INTERNAL_BODY),
        'x-request-id': requestId,
      });
      res.end(INTERNAL_BODY);
    }
  };

  async listen(opts: { host: string; port: number }): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(opts.port, opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  /** True while load shedding refuses new requests (enforcement/load-shed.ts). */
  get shedding(): boolean {
    return this.requests.shedder.isShedding;
  }

  /** Stops accepting, closes idle keep-alive connections, waits for in-flight requests. */
  async close(): Promise<void> {
    this.closing = true;
    this.requests.close();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  /** An in-process request through the full request path, no socket (tests). */
  async inject(opts: InjectOptions): Promise<InjectResponse> {
    const { inject } = await import('light-my-request');
    return inject(this.handle, opts);
  }
}

export function buildApp(deps: GatewayDeps): ProxyServer {
  return new ProxyServer(deps);
}

export interface SinkHealth {
  /** False when the sink can no longer accept events durably. */
  healthy(): boolean;
}

export interface AdminDeps {
  controlPlane: { readonly current: Snapshot | null };
  /** The automatic rollback, when enabled (its pending probations are shown on /readyz). */
  probation?: { pending(): { api: string; version: number; restoring: boolean }[] } | null;
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
  // Quarantined rows do not make the gateway unready: it serves everything else (and their last good versions).
  app.get('/readyz', async (_request, reply) => {
    const current = deps.controlPlane.current;
    const snapshot = current !== null;
    const sink = deps.sinkHealth.healthy();
    const ready = snapshot && sink && !deps.isShuttingDown();
    const config =
      current === null
        ? null
        : {
            version: current.version,
            quarantined: current.quarantine,
            probation: deps.probation?.pending() ?? [],
          };
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      snapshot,
      sink,
      shuttingDown: deps.isShuttingDown(),
      config,
    });
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });
  return app;
}
