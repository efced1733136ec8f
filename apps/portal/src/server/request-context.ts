import { clientAddress, isTrustedPeer, parseTrustedProxies, type TrustedProxies } from '@tollgate/config';
import { headers } from 'next/headers';
import { getConfig } from '../config.ts';
import { readForwarded } from './forwarded-headers.ts';

let trusted: { list: TrustedProxies } | undefined;
function trustedProxies(): TrustedProxies {
  trusted ??= { list: parseTrustedProxies(getConfig().PORTAL_TRUSTED_PROXIES) };
  return trusted.list;
}

/**
 * The client's address: the socket peer, or, when the peer is in PORTAL_TRUSTED_PROXIES, the
 * right-most untrusted X-Forwarded-For hop (the gateway's rule, from @tollgate/config).
 * 'unknown' when the request did not pass src/proxy.ts.
 */
export function clientAddressOf(requestHeaders: Headers): string {
  const forwarded = readForwarded(requestHeaders);
  return clientAddress(trustedProxies(), forwarded.peer, forwarded.clientForwardedFor) ?? 'unknown';
}

/** The client's address for the current server action, page or route handler. */
export async function clientIp(): Promise<string> {
  return clientAddressOf(await headers());
}

export async function userAgent(): Promise<string | null> {
  return (await headers()).get('user-agent')?.slice(0, 300) ?? null;
}

/**
 * The portal's public origin: PORTAL_PUBLIC_URL when configured, else derived from the request:
 * its Host, and https when the socket is TLS or a trusted proxy says X-Forwarded-Proto: https.
 */
export async function publicOrigin(): Promise<string> {
  const configured = getConfig().PORTAL_PUBLIC_URL;
  if (configured) return new URL(configured).origin;
  const h = await headers();
  const forwarded = readForwarded(h);
  const claimed = forwarded.clientForwardedProto?.split(',')[0]?.trim().toLowerCase();
  const viaTrustedProxy = isTrustedPeer(trustedProxies(), forwarded.peer);
  const proto =
    forwarded.socketProto === 'https' || (viaTrustedProxy && claimed === 'https') ? 'https' : 'http';
  return `${proto}://${h.get('host') ?? '127.0.0.1'}`;
}

/**
 * Cookies are Secure (and use the `__Host-` prefix) only when the portal is served over https.
 * Browsers drop Secure cookies set by http://127.0.0.1 pages, so local http development gets
 * a plain httpOnly, SameSite=Lax cookie instead: this is deliberate.
 */
export async function isHttps(): Promise<boolean> {
  return (await publicOrigin()).startsWith('https://');
}
