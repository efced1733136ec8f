import { headers } from 'next/headers';
import { getConfig } from '../config.ts';

/** Client IP as seen by `next start` (it sets x-forwarded-for from the socket). */
export async function clientIp(): Promise<string> {
  const h = await headers();
  const forwarded = h.get('x-forwarded-for');
  const first = forwarded?.split(',')[0]?.trim();
  return first && first.length > 0 ? first.slice(0, 64) : 'unknown';
}

export async function userAgent(): Promise<string | null> {
  return (await headers()).get('user-agent')?.slice(0, 300) ?? null;
}

/**
 * The portal's public origin: PORTAL_PUBLIC_URL when configured, else derived from the request
 * (host + proto headers that `next start` sets).
 */
export async function publicOrigin(): Promise<string> {
  const configured = getConfig().PORTAL_PUBLIC_URL;
  if (configured) return new URL(configured).origin;
  const h = await headers();
  const proto = h.get('x-forwarded-proto') === 'https' ? 'https' : 'http';
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
