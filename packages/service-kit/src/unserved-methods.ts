import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { TollgateError, toProblem } from '@tollgate/core';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { answerClientError, writeRawProblem } from './raw-answer.ts';

/**
 * A method a path does not serve gets 405 with `Allow` (RFC 9110), not the 404 fastify gives
 * every unrouted request: TRACE, PUT on a GET route, PROPFIND, QUERY; CONNECT, which node:http
 * hands to a 'connect' listener (or drops the socket); and methods node:http's parser does not
 * know at all (TRACK), which it refuses with a bare 400 before fastify sees them.
 *
 *   const methods = unservedMethods();
 *   const app = Fastify({ clientErrorHandler: methods.clientErrorHandler });
 *   methods.install(app); // before adding routes: they are learnt as they are added
 *
 * The 405 of a routed request is thrown from an onRequest hook, before any body parsing, and
 * rendered by the app's own error handler.
 */
export function unservedMethods(): {
  clientErrorHandler: NonNullable<FastifyServerOptions['clientErrorHandler']>;
  install(app: FastifyInstance): void;
} {
  const routes = new Map<string, { pattern: RegExp; methods: Set<string> }>();

  /** The methods served at this request path, or undefined when no route has the path. */
  const allowFor = (url: string): string | undefined => {
    const path = decodedPath(url);
    const methods = new Set<string>();
    for (const { pattern, methods: served } of routes.values())
      if (pattern.test(path)) for (const m of served) methods.add(m);
    return methods.size === 0 ? undefined : [...methods].sort().join(', ');
  };

  /** A raw answer for a request fastify never routes: 405 with Allow, or 404 for no such path. */
  const answerRaw = (socket: Socket, method: string, url: string) => {
    const allow = allowFor(url);
    if (allow === undefined) writeRawProblem(socket, toProblem(notFound()));
    else writeRawProblem(socket, toProblem(methodNotAllowed(method)), { allow });
  };

  return {
    clientErrorHandler(err, socket) {
      answerClientError(err, socket, (method, path) => answerRaw(socket, method, path));
    },
    install(app) {
      app.addHook('onRoute', (route) => {
        let entry = routes.get(route.url);
        if (entry === undefined) {
          entry = { pattern: patternOf(route.url), methods: new Set() };
          routes.set(route.url, entry);
        }
        for (const method of Array.isArray(route.method) ? route.method : [route.method])
          entry.methods.add(method.toUpperCase());
      });
      app.addHook('onRequest', async (request, reply) => {
        if (!request.is404) return;
        const allow = allowFor(request.url);
        if (allow === undefined) return; // no such path: the app's 404
        reply.header('allow', allow);
        throw methodNotAllowed(request.method);
      });
      app.server.on('connect', (req: IncomingMessage, socket: Socket) => {
        socket.on('error', () => socket.destroy());
        answerRaw(socket, 'CONNECT', req.url ?? '/');
      });
    },
  };
}

function methodNotAllowed(method: string): TollgateError {
  const shown = /^[A-Za-z-]{1,20}$/.test(method) ? method : 'This method';
  return new TollgateError('method_not_allowed', 'METHOD_NOT_ALLOWED', `${shown} is not allowed here.`);
}

function notFound(): TollgateError {
  return new TollgateError('not_found', 'ROUTE_NOT_FOUND', 'No such route.');
}

/** A fastify route URL (`/checkout/:id/pay`, `/files/*`) as a regular expression over decoded paths. */
function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) =>
      segment === '*'
        ? '.*'
        : segment.startsWith(':')
          ? '[^/]+'
          : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}

function decodedPath(url: string): string {
  const raw = url.split('?', 1)[0] ?? '/';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
