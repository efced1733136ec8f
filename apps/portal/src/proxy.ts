import { type NextRequest, NextResponse } from 'next/server';
import { setAsideForwardedHeaders } from './server/forwarded-headers.ts';

/**
 * Content-Security-Policy with a fresh script nonce per request (Next.js applies the nonce to
 * its own scripts when it finds it in the request's CSP header). The client's X-Forwarded-*
 * headers are set aside here so that Next writes the socket peer (server/forwarded-headers.ts).
 * Authentication is NOT done here: every page, server action and route handler checks the
 * user itself.
 */
export function proxy(request: NextRequest) {
  const nonce = btoa(crypto.randomUUID());
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  const headers = new Headers(request.headers);
  setAsideForwardedHeaders(headers);
  headers.set('x-nonce', nonce);
  headers.set('content-security-policy', csp);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set('content-security-policy', csp);
  return response;
}

export const config = {
  matcher: [{ source: '/((?!_next/static|_next/image|favicon.ico).*)' }],
};
