import type { NextConfig } from 'next';

/**
 * Static security headers for every response. The Content-Security-Policy (with a per-request
 * script nonce) is set in src/proxy.ts, because a nonce cannot be static.
 */
const securityHeaders = [
  { key: 'X-Content-Type-Options', value: 'nosniff' },
  { key: 'Referrer-Policy', value: 'strict-origin-when-cross-origin' },
  { key: 'X-Frame-Options', value: 'DENY' },
  { key: 'Cross-Origin-Opener-Policy', value: 'same-origin' },
  { key: 'Permissions-Policy', value: 'camera=(), microphone=(), geolocation=(), payment=()' },
];

const nextConfig: NextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  // Workspace packages ship TypeScript sources.
  transpilePackages: ['@tollgate/core', '@tollgate/config', '@tollgate/db'],
  serverExternalPackages: ['pg', '@prisma/adapter-pg', '@prisma/client'],
  async headers() {
    return [{ source: '/:path*', headers: securityHeaders }];
  },
};

export default nextConfig;
