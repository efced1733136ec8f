/**
 * How the portal learns the socket peer under Next's request handler (run by the portal's
 * server, src/main.ts, as under `next start`), which exposes no socket to route handlers or
 * server actions. Next sets `X-Forwarded-For` (and `-Proto`) from the socket only
 * when the request has none (`req.headers['x-forwarded-for'] ??= socket.remoteAddress` in
 * next/dist/server/base-server.js, Next 16), and it does so after the middleware (src/proxy.ts)
 * has rewritten the request headers. So the middleware sets the client's own values aside
 * under private names and deletes them; Next then writes the real peer; request-context.ts
 * decides with the trusted-proxy list whether the set-aside chain is believed.
 *
 * The middleware also stamps the request with a per-process secret, so the server code can
 * tell headers it set aside from a request that bypassed it (a matcher excluding a path, a
 * future Next that runs middleware elsewhere): without the stamp the peer counts as unknown.
 */

/** The client-supplied X-Forwarded-For chain, as received. */
export const CLIENT_FORWARDED_FOR = 'x-tollgate-client-forwarded-for';
/** The client-supplied X-Forwarded-Proto, as received. */
export const CLIENT_FORWARDED_PROTO = 'x-tollgate-client-forwarded-proto';
const STAMP_HEADER = 'x-tollgate-forwarded-stamp';

// The middleware and the server code are separate bundles in one process: the secret lives
// on globalThis so both see the same value.
const holder = globalThis as unknown as { __tollgateForwardedStamp?: string };
function stamp(): string {
  holder.__tollgateForwardedStamp ??= crypto.randomUUID();
  return holder.__tollgateForwardedStamp;
}

/** For src/proxy.ts: moves the client's X-Forwarded-For/-Proto aside (request headers, in place). */
export function setAsideForwardedHeaders(headers: Headers): void {
  const forwardedFor = headers.get('x-forwarded-for');
  const forwardedProto = headers.get('x-forwarded-proto');
  for (const name of [
    'x-forwarded-for',
    'x-forwarded-proto',
    CLIENT_FORWARDED_FOR,
    CLIENT_FORWARDED_PROTO,
    STAMP_HEADER,
  ]) {
    headers.delete(name);
  }
  if (forwardedFor !== null) headers.set(CLIENT_FORWARDED_FOR, forwardedFor);
  if (forwardedProto !== null) headers.set(CLIENT_FORWARDED_PROTO, forwardedProto);
  headers.set(STAMP_HEADER, stamp());
}

export interface ForwardedView {
  /** The socket peer as Next wrote it; null when the middleware did not run. */
  peer: string | null;
  /** The scheme of the socket (`http` or `https`). */
  socketProto: 'http' | 'https';
  /** What the client (or a proxy in front) sent; only believed from a trusted peer. */
  clientForwardedFor: string | null;
  clientForwardedProto: string | null;
}

let warnedUnstamped = false;

/** The forwarding facts of one request, as the middleware and Next left them. */
export function readForwarded(headers: Headers): ForwardedView {
  const stamped = headers.get(STAMP_HEADER) === stamp();
  if (!stamped && !warnedUnstamped) {
    warnedUnstamped = true;
    console.error(
      'portal: a request reached the server without passing src/proxy.ts; its client address is unknown',
    );
  }
  return {
    peer: stamped ? headers.get('x-forwarded-for') : null,
    socketProto: stamped && headers.get('x-forwarded-proto') === 'https' ? 'https' : 'http',
    clientForwardedFor: stamped ? headers.get(CLIENT_FORWARDED_FOR) : null,
    clientForwardedProto: stamped ? headers.get(CLIENT_FORWARDED_PROTO) : null,
  };
}
