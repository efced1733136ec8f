import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent } from 'undici';

/**
 * Webhook URLs are chosen by consumers, so delivering to them must not become a way to make
 * metering call internal services (SSRF): cloud metadata at 169.254.169.254, Postgres,
 * ClickHouse or admin ports on 127.0.0.1, anything on the private network. Only http(s) URLs
 * are accepted; a host given as an IP literal is checked before connecting; a host name is
 * resolved by the dispatcher's own lookup, every resolved address must be public, and the
 * connection goes to the address that was checked (no second resolution to race against).
 * Redirects are not followed (deliver-usage-alerts sets `redirect: 'manual'`).
 * ALERT_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true lifts the address check for local development.
 */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

/** True for loopback, private, link-local, shared, documentation, multicast and reserved addresses. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return PRIVATE.check(mapped[1]!, 'ipv4');
  return PRIVATE.check(address, 'ipv6');
}

/** Why a webhook URL may not be called, or null when it may (before DNS). */
export function webhookUrlProblem(raw: string, allowPrivateNetworks: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'webhook URL is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'webhook URL must be http(s)';
  if (url.username !== '' || url.password !== '') return 'webhook URL must not carry credentials';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivateNetworks && isIP(host) !== 0 && isPrivateAddress(host)) {
    return 'webhook URL points to a private address';
  }
  return null;
}

export class PrivateAddressError extends Error {
  constructor(hostname: string, address: string) {
    super(`webhook host ${hostname} resolves to a private address (${address})`);
    this.name = 'PrivateAddressError';
  }
}

/** The undici dispatcher webhook deliveries go through. */
export function createWebhookDispatcher(opts: { allowPrivateNetworks: boolean; timeoutMs: number }): Agent {
  return new Agent({
    connectTimeout: opts.timeoutMs,
    keepAliveTimeout: 4000,
    connect: {
      lookup(hostname, options, callback) {
        dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
          if (err) {
            callback(err, '', 0);
            return;
          }
          const list = addresses as LookupAddress[];
          const bad = opts.allowPrivateNetworks ? undefined : list.find((a) => isPrivateAddress(a.address));
          if (bad !== undefined) {
            callback(new PrivateAddressError(hostname, bad.address), '', 0);
            return;
          }
          if ((options as { all?: boolean }).all) {
            (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
            return;
          }
          const first = list[0];
          if (first === undefined) {
            callback(new Error(`webhook host ${hostname} has no address`), '', 0);
            return;
          }
          callback(null, first.address, first.family);
        });
      },
    },
  });
}
