import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { GatewayMetrics } from '../metrics.ts';

export interface JwtOptions {
  /** Issuer's JWKS URL (fetched, cached; an unknown kid refetches at most once per cooldown). */
  jwksUrl?: string | undefined;
  /** Configured public keys as a JWK Set. */
  publicKeys?: JSONWebKeySet | undefined;
  issuer: string;
  audience: string;
  /** Asymmetric algorithms only; `none` and HS* are never accepted (config refuses them). */
  algorithms: string[];
  consumerClaim: string;
  cooldownMs: number;
  cacheMaxAgeMs: number;
  timeoutMs: number;
  clockToleranceS: number;
}

export type JwtVerdict = { ok: true; consumerId: string } | { ok: false; reason: string };

const MAX_TOKEN_LENGTH = 8_192;

/**
 * JWT bearer verification with jose: signature against the configured keys or the issuer's
 * JWKS, `iss`, `aud` and `exp` required (`nbf` checked when present), algorithm allowlist, and
 * the consumer id taken from a configured claim.
 */
export class JwtVerifier {
  private readonly getKey: JWTVerifyGetKey;

  constructor(
    private readonly opts: JwtOptions,
    metrics: GatewayMetrics,
  ) {
    for (const alg of opts.algorithms) {
      if (/^(none|HS)/i.test(alg)) throw new Error(`JWT algorithm ${alg} is not allowed`);
    }
    const local = opts.publicKeys === undefined ? null : createLocalJWKSet(opts.publicKeys);
    const remote =
      opts.jwksUrl === undefined
        ? null
        : createRemoteJWKSet(new URL(opts.jwksUrl), {
            cooldownDuration: opts.cooldownMs,
            cacheMaxAge: opts.cacheMaxAgeMs,
            timeoutDuration: opts.timeoutMs,
            [customFetch]: (url, init) => {
              metrics.jwksFetches.inc();
              return fetch(url, init);
            },
          });
    if (local !== null && remote !== null) {
      this.getKey = async (header, token) => {
        try {
          return await local(header, token);
        } catch {
          return remote(header, token);
        }
      };
    } else if (local !== null) this.getKey = local;
    else if (remote !== null) this.getKey = remote;
    else throw new Error('JWT verification needs a JWKS URL or public keys');
  }

  async verify(token: string): Promise<JwtVerdict> {
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'token too long' };
    try {
      const { payload } = await jwtVerify(token, this.getKey, {
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        algorithms: this.opts.algorithms,
        requiredClaims: ['iss', 'aud', 'exp'],
        clockTolerance: this.opts.clockToleranceS,
      });
      const consumer = payload[this.opts.consumerClaim];
      if (typeof consumer !== 'string' || consumer.length === 0 || consumer.length > 64) {
        return { ok: false, reason: `claim ${this.opts.consumerClaim} missing` };
      }
      return { ok: true, consumerId: consumer };
    } catch (err) {
      return { ok: false, reason: (err as { code?: string }).code ?? 'invalid token' };
    }
  }
}
