import type { TrustedProxies } from '@tollgate/config';
import { pushRateLimitHeaders } from '../enforcement/rate-limit-headers.ts';
import { EVENT_ID_HEADER } from '../finish-request.ts';
import type { RequestRecord } from '../request-record.ts';
import { peerIsTrusted } from './client-address.ts';
import { connectionTokens, REQUEST_DROP, RESPONSE_DROP } from './headers.ts';
import { nextTraceparent } from './trace.ts';

export interface HeaderOptions {
  trustedProxies: TrustedProxies;
  /** Lowercased; '' disables. */
  consumerHeader: string;
  planHeader: string;
}

/**
 * Header hygiene for the upstream request, as a flat [name, value, ...] list (undici takes it
 * as is); slot [1] is the Host, set per target. Hop-by-hop headers, the credential the gateway
 * consumed and the identity headers it owns are dropped; X-Forwarded-*, X-Request-Id and a
 * traceparent with the gateway as the parent span are set.
 */
export function upstreamRequestHeaders(r: RequestRecord, o: HeaderOptions): string[] {
  const req = r.req;
  const raw = req.rawHeaders;
  const out: string[] = ['host', ''];
  const h = req.headers;
  const conn = connectionTokens(h.connection);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (REQUEST_DROP.has(lower) || conn?.has(lower)) continue;
    if (lower === 'authorization' && r.stripAuthorization) continue;
    if (lower === 'x-api-key' && r.stripApiKey) continue;
    if (lower === o.consumerHeader || lower === o.planHeader) continue;
    out.push(name, raw[i + 1]!);
  }
  const socket = req.socket;
  const trusted = peerIsTrusted(req, o.trustedProxies);
  const peer = socket.remoteAddress ?? '';
  const xff = h['x-forwarded-for'];
  const xfp = h['x-forwarded-proto'];
  const xfh = h['x-forwarded-host'];
  out.push(
    'x-forwarded-for',
    trusted && typeof xff === 'string' && xff !== '' ? `${xff}, ${peer}` : peer,
    'x-forwarded-proto',
    trusted && typeof xfp === 'string' && xfp !== ''
      ? xfp
      : (socket as { encrypted?: boolean }).encrypted
        ? 'https'
        : 'http',
    'x-forwarded-host',
    trusted && typeof xfh === 'string' && xfh !== '' ? xfh : (h.host ?? ''),
    'x-request-id',
    r.requestId,
  );
  const incoming = h.traceparent;
  const [traceparent, propagated] = nextTraceparent(typeof incoming === 'string' ? incoming : undefined);
  out.push('traceparent', traceparent);
  if (propagated && typeof h.tracestate === 'string') out.push('tracestate', h.tracestate);
  if (r.consumerId !== null && o.consumerHeader !== '') out.push(o.consumerHeader, r.consumerId);
  if (r.plan !== null && o.planHeader !== '') out.push(o.planHeader, r.plan.plan.slug);
  return out;
}

/**
 * The client's response headers from the upstream's: hop-by-hop and gateway-owned headers
 * dropped; the request id, the usage event id and the rate-limit headers added.
 */
export function clientResponseHeaders(
  r: RequestRecord,
  headers: Record<string, string | string[] | undefined>,
): string[] {
  const out: string[] = [];
  const conn = connectionTokens(headers.connection);
  for (const name in headers) {
    if (RESPONSE_DROP.has(name) || conn?.has(name)) continue;
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') out.push(name, v);
    else for (let i = 0; i < v.length; i++) out.push(name, v[i]!);
  }
  out.push('x-request-id', r.requestId);
  if (r.consumerId !== null) out.push(EVENT_ID_HEADER, r.eventId);
  if (r.sub !== null && r.plan !== null && r.decision !== null) {
    pushRateLimitHeaders(out, r.sub, r.plan, r.decision);
  }
  return out;
}
