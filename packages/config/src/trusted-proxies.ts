import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';

/**
 * Trusted forwarding proxies: which peers may tell us, in X-Forwarded-For, who the client is.
 * One implementation for every app that reads the header (the gateway and the portal), so
 * "trusted" means the same thing in both. `null` trusts nobody.
 */
export type TrustedProxies = BlockList | null;

/** At most this many X-Forwarded-For hops are examined; a longer chain stops at the last one checked. */
const MAX_HOPS = 32;

interface ProxyEntry {
  address: string;
  family: 'ipv4' | 'ipv6';
  prefix: number | undefined;
}

/** One list entry (an IPv4 or IPv6 address, or a CIDR), or null when it is neither. */
function parseEntry(entry: string): ProxyEntry | null {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
  if (family === null) return null;
  if (slash === -1) return { address, family, prefix: undefined };
  const bits = entry.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  if (!(prefix >= 0 && prefix <= (family === 'ipv4' ? 32 : 128))) return null;
  return { address, family, prefix };
}

/** Builds the list from CIDRs and addresses; throws on an entry that is neither. */
export function parseTrustedProxies(entries: readonly string[]): TrustedProxies {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const raw of entries) {
    const entry = parseEntry(raw);
    if (entry === null) throw new Error(`trusted proxy ${raw} is not an address or CIDR`);
    if (entry.prefix === undefined) list.addAddress(entry.address, entry.family);
    else list.addSubnet(entry.address, entry.prefix, entry.family);
  }
  return list;
}

/**
 * The address in its plain form: IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a dual-stack socket
 * reports) becomes IPv4, an IPv6 zone (`%eth0`) is dropped. Null for anything that is not an
 * address (a hostname, `unknown`, an address with a port).
 */
export function normalizeAddress(value: string | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  let address = value.trim();
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const zone = address.indexOf('%');
  if (zone !== -1) address = address.slice(0, zone);
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return null;
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return lower.slice(7);
  return lower;
}

export function isTrustedPeer(list: TrustedProxies, address: string | undefined | null): boolean {
  if (list === null) return false;
  const normalized = normalizeAddress(address);
  if (normalized === null) return false;
  return list.check(normalized, isIPv4(normalized) ? 'ipv4' : 'ipv6');
}

/**
 * The client's address: the socket peer, unless the peer is a trusted proxy; then
 * X-Forwarded-For is read from the right (each proxy appends the address it saw), skipping
 * trusted hops, and the first untrusted hop is the client. Everything left of it was written
 * by that client and is ignored. When every hop is trusted, the left-most one is the client; a
 * hop that is not an address (a port, garbage) stops the walk at the trusted hop that sent it.
 * Null when the peer itself is unknown.
 */
export function clientAddress(
  list: TrustedProxies,
  peer: string | undefined | null,
  forwardedFor: string | undefined | null,
): string | null {
  let client = normalizeAddress(peer);
  if (client === null || !isTrustedPeer(list, client)) return client;
  if (!forwardedFor) return client;
  const hops = forwardedFor.split(',');
  const last = Math.max(0, hops.length - MAX_HOPS);
  for (let i = hops.length - 1; i >= last; i--) {
    const hop = normalizeAddress(hops[i]);
    if (hop === null) return client;
    client = hop;
    if (!isTrustedPeer(list, hop)) return hop;
  }
  return client;
}

/**
 * Env fragment for a comma-separated list of trusted proxies (CIDRs or addresses), e.g.
 * `GATEWAY_TRUSTED_PROXIES: trustedProxiesVar`. A bad entry is a configuration error naming the
 * variable; pass the parsed list to `parseTrustedProxies`.
 */
export const trustedProxiesVar = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p.length > 0),
  )
  .superRefine((entries, ctx) => {
    for (const entry of entries) {
      if (parseEntry(entry) === null) {
        ctx.addIssue({ code: 'custom', message: `${entry} is not an IPv4/IPv6 address or CIDR` });
      }
    }
  });
