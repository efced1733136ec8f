import { randomUUID } from 'node:crypto';
import type { z } from '@tollgate/config';
import { toProblem } from '@tollgate/core';
import type { Actor, Role } from '../actor.ts';
import { assertRole } from '../authorize.ts';
import { knownError, parseInput } from '../errors.ts';
import { actorFromBearer } from './admin-token.ts';
import { idempotent } from './idempotency.ts';
import { methodNotAllowed, problemResponse } from './problem-response.ts';

export type RouteContext<P extends Record<string, string> = Record<string, string>> = { params: Promise<P> };
type RouteHandler<P extends Record<string, string>> = (
  request: Request,
  context: RouteContext<P>,
) => Promise<Response>;

function json(body: unknown, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(
    JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
    {
      status,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra },
    },
  );
}

/** Parses the query string against its schema (400 naming the parameter); the last value of a repeated parameter counts. */
export function parseQuery<S extends z.ZodType>(schema: S, request: Request): z.infer<S> {
  return parseInput(schema, Object.fromEntries(new URL(request.url).searchParams));
}

/**
 * Every /admin/v1 handler: bearer-token authentication, a role check, then the shared use case;
 * errors become problem+json with a request id (a value Postgres refused is the 4xx it is;
 * unknown errors are a 500 that leaks nothing). A POST with an Idempotency-Key is answered
 * once and replayed after (idempotency.ts).
 */
export function restHandler<P extends Record<string, string>>(
  roles: readonly Role[],
  fn: (actor: Actor, request: Request, params: P) => Promise<{ status?: number; body: unknown }>,
): RouteHandler<P> {
  return async (request, context) => {
    const requestId = randomUUID();
    const answer = async (work: () => Promise<Response>): Promise<Response> => {
      try {
        return await work();
      } catch (err) {
        return errorResponse(err, requestId);
      }
    };
    return answer(async () => {
      const actor = await actorFromBearer(request);
      assertRole(actor, roles);
      // Inside the idempotent step, errors are answers too: a retry gets the same 4xx.
      return idempotent(actor, request, () =>
        answer(async () => {
          const params = await context.params;
          const { status = 200, body } = await fn(actor, request, params);
          if (status === 204) return new Response(null, { status, headers: { 'x-request-id': requestId } });
          return json(body, status, { 'x-request-id': requestId });
        }),
      );
    });
  };
}

function errorResponse(err: unknown, requestId: string): Response {
  const known = knownError(err);
  if (known === undefined || known.status >= 500) console.error('admin api error', requestId, err);
  const problem = toProblem(known ?? err, requestId);
  const headers: Record<string, string> =
    problem.status === 401 ? { 'www-authenticate': 'Bearer realm="tollgate-admin"' } : {};
  return problemResponse(problem, headers);
}

type ServedMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';
/** Every method a Next.js route handler can export; Next itself answers 400 to any other. */
type NextMethod = ServedMethod | 'HEAD' | 'PUT' | 'OPTIONS';
const ORDER: NextMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * The exports of one /admin/v1 route file: the given handlers, HEAD from GET, OPTIONS with
 * `Allow`, and a problem+json 405 with `Allow` for every other method (Next's own 405 has
 * neither). Methods Next cannot route at all (TRACE, CONNECT, PROPFIND, ...) are answered by
 * the portal's server (src/main.ts) with the same Allow, which it reads from OPTIONS.
 */
export function restRoute<P extends Record<string, string>>(
  handlers: Partial<Record<ServedMethod, RouteHandler<P>>>,
): Record<NextMethod, RouteHandler<P>> {
  const get = handlers.GET;
  const served: Partial<Record<NextMethod, RouteHandler<P>>> = {
    ...handlers,
    ...(get === undefined
      ? {}
      : {
          HEAD: async (request, context) => {
            const res = await get(request, context);
            return new Response(null, { status: res.status, headers: res.headers });
          },
        }),
  };
  const allow = ORDER.filter((m) => m === 'OPTIONS' || served[m] !== undefined).join(', ');
  const refuse: RouteHandler<P> = async (request) => methodNotAllowed(request.method, allow);
  const route = {} as Record<NextMethod, RouteHandler<P>>;
  for (const method of ORDER) route[method] = served[method] ?? refuse;
  route.OPTIONS = async () => new Response(null, { status: 204, headers: { allow } });
  return route;
}
