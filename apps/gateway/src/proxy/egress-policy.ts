import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * Which addresses the gateway may open upstream connections to. An upstream target is an
 * admin's URL, so without this any API could point at the machine's or the network's internals
 * (ClickHouse without a password, cloud metadata at 169.254.169.254, the gateway's own admin
 * listener). Checked on the resolved address at connect time (guarded-connect.ts), so a DNS
 * name that later resolves elsewhere (rebinding) is checked again.
 *
 * - Internal ranges (loopback, private, CGNAT, link-local and metadata, unique-local,
 *   multicast, reserved, IPv6 transition prefixes that embed IPv4) are refused unless an entry
 *   of the allow list (GATEWAY_UPSTREAM_ALLOW) covers them. Other addresses are allowed.
 * - The gateway's own listeners (proxy and admin ports on any local address) are refused even
 *   when allowed: a loop or the admin endpoints reached through a public route.
 */

export type EgressVerdict = 'allowed' | 'internal' | 'self';

/** One GATEWAY_UPSTREAM_ALLOW entry: `CIDR`, `address`, `address:port`, `[v6]:port` or `hostname:port`. */
export type EgressAllowEntry =
  | { kind: 'subnet'; address: string; prefix: number; family: 'ipv4' | 'ipv6' }
  | { kind: 'address-port'; address: string; family: 'ipv4' | 'ipv6'; port: number }
  | { kind: 'host-port'; hostname: string; port: number };

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

const familyOf = (address: string): 'ipv4' | 'ipv6' | null => {
  const v = isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : null;
};

function parsePort(s: string): number | null {
  if (!/^\d{1,5}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : null;
}

/** Parses one allow-list entry; null when it is none of the accepted forms. */
export function parseEgressAllowEntry(raw: string): EgressAllowEntry | null {
  const entry = raw.trim().toLowerCase();
  const slash = entry.indexOf('/');
  if (slash >= 0) {
    const address = entry.slice(0, slash);
    const family = familyOf(address);
    const bits = entry.slice(slash + 1);
    if (family === null || !/^\d{1,3}$/.test(bits)) return null;
    const prefix = Number(bits);
    if (prefix > (family === 'ipv4' ? 32 : 128)) return null;
    return { kind: 'subnet', address, prefix, family };
  }
  const family = familyOf(entry);
  if (family !== null)
    return { kind: 'subnet', address: entry, prefix: family === 'ipv4' ? 32 : 128, family };
  const bracketed = /^\[([0-9a-f:.]+)\]:(\d+)$/.exec(entry);
  if (bracketed !== null) {
    const port = parsePort(bracketed[2]!);
    if (port === null || familyOf(bracketed[1]!) !== 'ipv6') return null;
    return { kind: 'address-port', address: bracketed[1]!, family: 'ipv6', port };
  }
  const colon = entry.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = entry.slice(0, colon);
  const port = parsePort(entry.slice(colon + 1));
  if (port === null) return null;
  const hostFamily = familyOf(host);
  if (hostFamily === 'ipv4') return { kind: 'address-port', address: host, family: 'ipv4', port };
  if (hostFamily === null && HOSTNAME.test(host)) return { kind: 'host-port', hostname: host, port };
  return null;
}

/** Internal ranges: [address, prefix length]. */
const INTERNAL_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT (also Alibaba's metadata, 100.100.100.200)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local: cloud metadata 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const INTERNAL_V6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['::', 96], // IPv4-compatible (deprecated)
  ['64:ff9b::', 96], // NAT64: would reach IPv4 internals through a translator
  ['64:ff9b:1::', 48],
  ['100::', 64], // discard
  ['2001::', 32], // Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['fc00::', 7], // unique local (AWS metadata fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];
// IPv4-mapped addresses (::ffff:a.b.c.d) are checked against the IPv4 rules by BlockList.

/** Loopback and unspecified addresses, and every address of this machine's interfaces. */
function localAddresses(): BlockList {
  const local = new BlockList();
  local.addSubnet('127.0.0.0', 8, 'ipv4');
  local.addSubnet('0.0.0.0', 8, 'ipv4');
  local.addAddress('::1', 'ipv6');
  local.addAddress('::', 'ipv6');
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const family = familyOf(a.address.split('%')[0]!);
      if (family !== null) local.addAddress(a.address.split('%')[0]!, family);
    }
  }
  return local;
}

export class EgressPolicy {
  private readonly internal = new BlockList();
  private readonly allowed = new BlockList();
  /** Allowed address:port pairs, by port. */
  private readonly allowedByPort = new Map<number, BlockList>();
  private readonly allowedHostPorts = new Set<string>();
  private readonly local = localAddresses();
  private readonly selfPorts = new Set<number>();

  /** `allow`: GATEWAY_UPSTREAM_ALLOW entries (throws on one that does not parse; config.ts validates first). */
  constructor(allow: readonly string[]) {
    for (const [address, prefix] of INTERNAL_V4) this.internal.addSubnet(address, prefix, 'ipv4');
    for (const [address, prefix] of INTERNAL_V6) this.internal.addSubnet(address, prefix, 'ipv6');
    for (const raw of allow) {
      const e = parseEgressAllowEntry(raw);
      if (e === null) throw new Error(`invalid upstream allow entry ${JSON.stringify(raw)}`);
      if (e.kind === 'subnet') this.allowed.addSubnet(e.address, e.prefix, e.family);
      else if (e.kind === 'host-port') this.allowedHostPorts.add(`${e.hostname}:${e.port}`);
      else {
        let list = this.allowedByPort.get(e.port);
        if (list === undefined) {
          list = new BlockList();
          this.allowedByPort.set(e.port, list);
        }
        list.addAddress(e.address, e.family);
      }
    }
  }

  /** Refuses `port` on every local address: the gateway's own listeners. */
  denySelfPort(port: number): void {
    if (port > 0) this.selfPorts.add(port);
  }

  /**
   * The verdict for a connection to `address` (resolved) on `port`, for a target whose URL
   * names `hostname` (lower-cased, as in the URL; IPv6 without brackets).
   */
  check(address: string, port: number, hostname: string): EgressVerdict {
    const family = familyOf(address);
    if (family === null) return 'internal';
    if (this.selfPorts.has(port) && this.local.check(address, family)) return 'self';
    if (!this.internal.check(address, family)) return 'allowed';
    if (this.allowed.check(address, family)) return 'allowed';
    if (this.allowedByPort.get(port)?.check(address, family) === true) return 'allowed';
    if (this.allowedHostPorts.has(`${hostname}:${port}`)) return 'allowed';
    return 'internal';
  }
}
