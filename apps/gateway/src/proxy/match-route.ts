import { canonicalRequestPath } from '@tollgate/core';
import type { Snapshot } from '../control-plane/compile-snapshot.ts';
import { defineProblem, type Problem } from '../problem.ts';
import type { RequestRecord } from '../request-record.ts';

export const NOT_READY = defineProblem({
  status: 503,
  code: 'NOT_READY',
  detail: 'The gateway has no configuration yet.',
  retryAfterS: 1,
});
const ROUTE_NOT_FOUND = defineProblem({
  status: 404,
  code: 'ROUTE_NOT_FOUND',
  detail: 'No API route matches this request.',
});

/** Methods the gateway proxies; any other (TRACE, WebDAV, ...) matches no route. */
const PROXIED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** One refusal per rule of the canonical path (core's canonicalizer returns frozen constants). */
const badPaths = new WeakMap<object, Problem>();

/**
 * Route matching: the request path in its canonical form (core's canonicalRequestPath; a path
 * it refuses gets 400 BAD_PATH), then host, path and method against the snapshot. Writes the
 * path, query, route, and whether a body comes and its limit.
 */
export function matchRoute(r: RequestRecord, snap: Snapshot): Problem | null {
  const url = r.req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  r.path = path;
  r.query = q < 0 ? '' : url.slice(q);
  const canonical = canonicalRequestPath(path);
  if (typeof canonical !== 'string') {
    let problem = badPaths.get(canonical);
    if (problem === undefined) {
      problem = defineProblem({
        status: 400,
        code: 'BAD_PATH',
        detail: canonical.detail,
        reason: canonical.code,
      });
      badPaths.set(canonical, problem);
    }
    return problem;
  }
  r.canonicalPath = canonical;
  const route = PROXIED_METHODS.has(r.method)
    ? snap.match(normalizeHost(r.req.headers.host), canonical, r.method)
    : null;
  if (route === null) return ROUTE_NOT_FOUND;
  r.route = route;
  const headers = r.req.headers;
  const cl = headers['content-length'];
  r.hasBody = (cl !== undefined && cl !== '0') || headers['transfer-encoding'] !== undefined;
  r.bodyLimit = route.api.maxBodyBytes;
  return null;
}

function normalizeHost(host: string | undefined): string {
  if (host === undefined) return '';
  let h = host;
  if (h.charCodeAt(0) === 91 /* [ */) return h.toLowerCase();
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  return h.toLowerCase();
}
