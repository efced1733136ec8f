import { type LookupAddress, type LookupAllOptions, type LookupOptions, lookup } from 'node:dns';
import { isIP } from 'node:net';
import { buildConnector } from 'undici';
import type { EgressPolicy, EgressVerdict } from './egress-policy.ts';

/** The code of the error a refused upstream connection fails its requests with. */
export const UPSTREAM_FORBIDDEN = 'UPSTREAM_FORBIDDEN';

export class UpstreamForbiddenError extends Error {
  readonly code = UPSTREAM_FORBIDDEN;
  constructor(
    readonly address: string,
    readonly verdict: Exclude<EgressVerdict, 'allowed'>,
  ) {
    super(`upstream address ${address} is refused by the egress policy (${verdict})`);
    this.name = 'UpstreamForbiddenError';
  }
}

export interface GuardedConnectOptions {
  policy: EgressPolicy;
  /** The target URL's host name (lower-case; IPv6 without brackets) and port. */
  hostname: string;
  port: number;
  timeoutMs: number;
  onRefused(err: UpstreamForbiddenError): void;
  /** The resolver (default dns.lookup; tests pass one that changes its answer). */
  resolve?: Resolver;
}

export type Resolver = (
  host: string,
  options: LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * An undici connector for one target that applies the egress policy before any packet leaves:
 * an IP literal is checked directly; a host name through net's `lookup` hook, i.e. on the
 * addresses of this very connection (a name re-resolved to an internal address is caught).
 * Resolved addresses that are refused are dropped; none left fails the connection.
 */
export function guardedConnector(opts: GuardedConnectOptions): buildConnector.connector {
  const { policy, hostname, port } = opts;
  const resolve: Resolver = opts.resolve ?? lookup;
  const refuse = (address: string, verdict: EgressVerdict): UpstreamForbiddenError => {
    const err = new UpstreamForbiddenError(address, verdict === 'self' ? 'self' : 'internal');
    opts.onRefused(err);
    return err;
  };
  const guardedLookup = (host: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(host, { ...options, all: true }, (err, addresses) => {
      if (err !== null) {
        callback(err, '');
        return;
      }
      // The first refused address is what the error names (when none is left).
      let refusedAddress = host;
      let refusedVerdict: EgressVerdict | null = null;
      const allowed: LookupAddress[] = [];
      for (const a of addresses) {
        const verdict = policy.check(a.address, port, hostname);
        if (verdict === 'allowed') allowed.push(a);
        else if (refusedVerdict === null) {
          refusedAddress = a.address;
          refusedVerdict = verdict;
        }
      }
      if (allowed.length === 0) callback(refuse(refusedAddress, refusedVerdict ?? 'internal'), '');
      else if (options.all === true) callback(null, allowed);
      else callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
  const connect = buildConnector({
    timeout: opts.timeoutMs,
    lookup: guardedLookup,
  } as buildConnector.BuildOptions);
  const literal = isIP(hostname) !== 0;
  return (options, callback) => {
    if (literal) {
      const verdict = policy.check(hostname, port, hostname);
      if (verdict !== 'allowed') {
        const err = refuse(hostname, verdict);
        queueMicrotask(() => callback(err, null));
        return;
      }
    }
    connect(options, callback);
  };
}
