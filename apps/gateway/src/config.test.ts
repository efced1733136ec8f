import type { ConfigError } from '@tollgate/config';
import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from './config.ts';

const base = {
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  REDIS_URL: 'redis://127.0.0.1:6379',
  KAFKA_BROKERS: '127.0.0.1:9092',
};

describe('gateway config', () => {
  it('has documented defaults', () => {
    const c = parseGatewayConfig(base);
    expect(c.GATEWAY_PORT).toBe(8080);
    expect(c.GATEWAY_ADMIN_HOST).toBe('127.0.0.1');
    expect(c.GATEWAY_ADMIN_PORT).toBe(9090);
    expect(c.GATEWAY_KEY_CACHE_TTL_MS).toBeLessThanOrEqual(5000);
    expect(c.GATEWAY_JWT_ALGORITHMS).toEqual(['RS256', 'ES256', 'EdDSA']);
    expect(c.GATEWAY_TRUSTED_PROXIES).toEqual([]);
  });

  it('refuses a key cache TTL above the 5 s revocation bound, none/HS* algorithms, and JWT without iss/aud', () => {
    const bad = (env: Record<string, string>) => {
      try {
        parseGatewayConfig({ ...base, ...env });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(bad({ GATEWAY_KEY_CACHE_TTL_MS: '6000' }).join()).toMatch(/GATEWAY_KEY_CACHE_TTL_MS/);
    expect(bad({ GATEWAY_JWT_ALGORITHMS: 'none' }).join()).toMatch(/GATEWAY_JWT_ALGORITHMS/);
    expect(bad({ GATEWAY_JWT_ALGORITHMS: 'HS256,RS256' }).join()).toMatch(/GATEWAY_JWT_ALGORITHMS/);
    expect(bad({ GATEWAY_JWT_JWKS_URL: 'https://issuer.example/jwks.json' }).join()).toMatch(
      /GATEWAY_JWT_ISSUER/,
    );
    expect(bad({ GATEWAY_JWT_PUBLIC_KEYS: '{nope' }).join()).toMatch(/GATEWAY_JWT_PUBLIC_KEYS/);
    expect(
      parseGatewayConfig({
        ...base,
        GATEWAY_JWT_PUBLIC_KEYS: '{"keys":[]}',
        GATEWAY_JWT_ISSUER: 'i',
        GATEWAY_JWT_AUDIENCE: 'a',
        GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1',
      }).GATEWAY_TRUSTED_PROXIES,
    ).toEqual(['10.0.0.0/8', '127.0.0.1']);
  });
});
