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
    // No internal upstream address is allowed unless named.
    expect(c.GATEWAY_UPSTREAM_ALLOW).toEqual([]);
    expect([
      c.GATEWAY_MAX_CONCURRENT_PER_ADDRESS,
      c.GATEWAY_MAX_CONCURRENT_PER_CONSUMER,
      c.GATEWAY_UPSTREAM_FAIR_SHARE,
      c.GATEWAY_MIN_BODY_RATE_BYTES_PER_S,
      c.GATEWAY_BODY_RATE_GRACE_MS,
    ]).toEqual([64, 256, 0.25, 1024, 5000]);
    expect([
      c.GATEWAY_KEY_NEGATIVE_CACHE_MAX,
      c.GATEWAY_KEY_LOOKUP_BUDGET_PER_S,
      c.GATEWAY_KEY_LOOKUP_BUDGET_BURST,
      c.GATEWAY_KEY_LOOKUP_CONCURRENCY,
      c.GATEWAY_KEY_LOOKUP_QUEUE,
    ]).toEqual([100_000, 5, 20, 4, 256]);
  });

  it('GATEWAY_UPSTREAM_ALLOW takes CIDRs, addresses, address:port and hostname:port, and names a bad entry', () => {
    expect(
      parseGatewayConfig({
        ...base,
        GATEWAY_UPSTREAM_ALLOW: '10.0.0.0/8, 127.0.0.1:4010,[::1]:80,ch.internal:8123',
      }).GATEWAY_UPSTREAM_ALLOW,
    ).toEqual(['10.0.0.0/8', '127.0.0.1:4010', '[::1]:80', 'ch.internal:8123']);
    let problems: string[] = [];
    try {
      parseGatewayConfig({ ...base, GATEWAY_UPSTREAM_ALLOW: '127.0.0.1, everything' });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems.join()).toMatch(/GATEWAY_UPSTREAM_ALLOW.*"everything"/);
  });

  it('refuses an upstream share outside (0, 1] and a lookup budget of zero', () => {
    for (const [name, value] of [
      ['GATEWAY_UPSTREAM_FAIR_SHARE', '0'],
      ['GATEWAY_UPSTREAM_FAIR_SHARE', '1.5'],
      ['GATEWAY_KEY_LOOKUP_BUDGET_PER_S', '0'],
      ['GATEWAY_KEY_LOOKUP_CONCURRENCY', '0'],
    ] as const) {
      expect(() => parseGatewayConfig({ ...base, [name]: value }), `${name}=${value}`).toThrow(name);
    }
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
    // at boot, not at the first request from a proxy
    expect(bad({ GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8, 10.0.0.0/40' }).join()).toMatch(
      /GATEWAY_TRUSTED_PROXIES: 10.0.0.0\/40 is not/,
    );
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
