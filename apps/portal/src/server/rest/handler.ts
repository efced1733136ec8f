import { randomUUID } from 'node:crypto';
import { isTollgateError, toProblem } from '@tollgate/core';
import type { Actor, Role } from '../actor.ts';
import { assertRole } from '../authorize.ts';
import { TollgateError } from '../errors.ts';
import { actorFromBearer } from './admin-token.ts';

export type RouteContext<P extends Record<string, string> = Record<string, string>> = { params: Promise<P> };

function json(body: unknown, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(
    JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
    {
      status,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra },
    },
  );
}

/** Reads a JSON body (max 1 MiB); anything else is a 400. */
export async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.length > 1_048_576)
    throw new TollgateError('payload_too_large', 'BODY_TOO_LARGE', 'Body over 1 MiB.');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new TollgateError('invalid', 'INVALID_JSON', 'The body is not valid JSON.');
  }
}

/**
 * Every /admin/v1 handler: bearer-token authentication, a role check, then the shared use case;
 * errors become problem+json with a request id (unknown errors leak nothing).
 */
export function restHandler<P extends Record<string, string>>(
  roles: readonly Role[],
  fn: (actor: Actor, request: Request, params: P) => Promise<{ status?: number; body: unknown }>,
) {
  return async (request: Request, context: RouteContext<P>): Promise<Response> => {
    const requestId = randomUUID();
    try {
      const actor = await actorFromBearer(request);
      assertRole(actor, roles);
      const params = await context.params;
      const { status = 200, body } = await fn(actor, request, params);
      if (status === 204) return new Response(null, { status, headers: { 'x-request-id': requestId } });
      return json(body, status, { 'x-request-id': requestId });
    } catch (err) {
      if (!isTollgateError(err)) console.error('admin api error', requestId, err);
      const problem = toProblem(err, requestId);
      return new Response(JSON.stringify(problem), {
        status: problem.status,
        headers: {
          'content-type': 'application/problem+json',
          'x-request-id': requestId,
          ...(problem.status === 401 ? { 'www-authenticate': 'Bearer realm="tollgate-admin"' } : {}),
        },
      });
    }
  };
}
