import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the gateway always rewrites itself. */
export const REQUEST_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
  'x-request-id',
  'traceparent',
  'tracestate',
]);

export const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-request-id',
  'x-tollgate-event-id',
  'ratelimit',
  'ratelimit-policy',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
]);

/** Lowercased header names listed in a Connection header value (they are hop-by-hop too). */
export function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined || value === 'keep-alive' || value === 'close') return null;
  const s = Array.isArray(value) ? value.join(',') : value;
  let out: Set<string> | null = null;
  for (const part of s.split(',')) {
    const t = part.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive') continue;
    out ??= new Set();
    out.add(t);
  }
  return out;
}

/** Trusted forwarding proxies as a BlockList of CIDRs and addresses (IPv4, IPv6). */
export function parseTrustedProxies(entries: string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    if (addr === undefined) continue;
    const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
    if (family === null) throw new Error(`trusted proxy ${e} is not an address or CIDR`);
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

export function isTrustedPeer(list: BlockList | null, address: string | undefined): boolean {
  if (list === null || address === undefined) return false;
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return list.check(address.slice(7), 'ipv4');
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}
