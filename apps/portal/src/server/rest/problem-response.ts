import { randomUUID } from 'node:crypto';
import { type ProblemDetails, TollgateError, toProblem } from '@tollgate/core';

/** The problem+json answer of /admin/v1 (route handlers) and of the portal's server (src/main.ts). */
export function problemResponse(problem: ProblemDetails, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: {
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
      ...(problem.requestId === undefined ? {} : { 'x-request-id': problem.requestId }),
      ...headers,
    },
  });
}

/** 405 for a method the resource does not serve; `allow` lists the ones it does. */
export function methodNotAllowedProblem(method: string): ProblemDetails {
  const shown = /^[A-Za-z-]{1,20}$/.test(method) ? method : 'This method';
  return toProblem(
    new TollgateError('method_not_allowed', 'METHOD_NOT_ALLOWED', `${shown} is not allowed here.`),
    randomUUID(),
  );
}

export function methodNotAllowed(method: string, allow: string): Response {
  return problemResponse(methodNotAllowedProblem(method), { allow });
}
