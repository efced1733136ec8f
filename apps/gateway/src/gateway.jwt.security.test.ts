import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestGateway,
  type Echo,
  fixtureSnapshot,
  IDS,
  StaticSource,
  startEcho,
} from './testing/fixtures.ts';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'tollgate-api';

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

describe('gateway.jwt.security', () => {
  let echo: Echo;
  let jwks: Server;
  let fetches = 0;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let privateKey: CryptoKey;
  let otherKey: CryptoKey;
  let publicPem: string;

  beforeAll(async () => {
    echo = await startEcho();
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    publicPem = await exportSPKI(pair.publicKey);
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const body = JSON.stringify({ keys: [jwk] });
    jwks = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const source = new StaticSource(fixtureSnapshot(echo.url));
    gw = await buildTestGateway(source, {
      jwt: {
        jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256', 'ES256'],
        consumerClaim: 'sub',
        cooldownMs: 30_000,
        cacheMaxAgeMs: 600_000,
        timeoutMs: 2_000,
        clockToleranceS: 0,
      },
    });
  });
  afterAll(async () => {
    await gw.close();
    await echo.close();
    jwks.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown> = {}, opts: { kid?: string; key?: CryptoKey } = {}) =>
    new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: IDS.consumer, exp: now() + 60, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'k1' })
      .sign(opts.key ?? privateKey);
  const call = (token: string) =>
    gw.app.inject({ method: 'GET', url: '/echo/jwt', headers: { authorization: `Bearer ${token}` } });

  it('jwt.verify.happy: a valid RS256 token maps to the consumer from the sub claim, and is not forwarded', async () => {
    const res = await call(await sign());
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.headers.authorization).toBeUndefined();
    expect(body.headers['x-tollgate-consumer']).toBe(IDS.consumer);
  });

  it('jwt.verify.security: alg none, HS256 signed with the RSA public key, expired, nbf in the future, wrong aud, wrong iss, no exp: all 401', async () => {
    const header = (h: object) => b64url(JSON.stringify(h));
    const payload = b64url(
      JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: IDS.consumer, exp: now() + 60 }),
    );
    const none = `${header({ alg: 'none', typ: 'JWT' })}.${payload}.`;
    const hsInput = `${header({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${payload}`;
    const hs256 = `${hsInput}.${createHmac('sha256', publicPem).update(hsInput).digest('base64url')}`;
    const cases: Record<string, string> = {
      none,
      hs256,
      expired: await sign({ exp: now() - 10 }),
      nbfFuture: await sign({ nbf: now() + 3600 }),
      wrongAud: await sign({ aud: 'someone-else' }),
      wrongIss: await sign({ iss: 'https://evil.test' }),
      noExp: await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: IDS.consumer })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .sign(privateKey),
      otherKeySameKid: await sign({}, { key: otherKey }),
      tampered: (await sign()).replace(
        /\.[^.]+\./,
        `.${b64url(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: IDS.consumer2, exp: now() + 60 }))}.`,
      ),
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await call(token);
      expect(res.statusCode, name).toBe(401);
      expect(res.headers['www-authenticate'], name).toBe('Bearer realm="tollgate", error="invalid_token"');
      expect(res.headers['content-type'], name).toBe('application/problem+json');
    }
  });

  it('jwt.verify.security: a flood of unknown kids is 401 and causes a bounded number of JWKS fetches', async () => {
    const before = fetches;
    const tokens = await Promise.all(
      Array.from({ length: 200 }, (_, i) => sign({}, { kid: `unknown-${i}`, key: otherKey })),
    );
    const results = await Promise.all(tokens.map(call));
    expect(results.every((r) => r.statusCode === 401)).toBe(true);
    // One cooldown window: at most one refetch however many unknown kids arrive.
    expect(fetches - before).toBeLessThanOrEqual(1);
    const metrics = await gw.metrics.registry.metrics();
    expect(metrics).toMatch(/tollgate_gateway_jwks_fetches_total \d/);
  });
});

describe('gateway.jwt.configured-keys', () => {
  it('verifies against configured public keys and maps the consumer from a configured claim', async () => {
    const echo = await startEcho();
    const pair = await generateKeyPair('ES256', { extractable: true });
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'cfg', alg: 'ES256' };
    const gw = await buildTestGateway(new StaticSource(fixtureSnapshot(echo.url)), {
      jwt: {
        publicKeys: { keys: [jwk] },
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['ES256'],
        consumerClaim: 'https://tollgate.dev/consumer',
        cooldownMs: 30_000,
        cacheMaxAgeMs: 600_000,
        timeoutMs: 2_000,
        clockToleranceS: 0,
      },
    });
    try {
      const exp = Math.floor(Date.now() / 1000) + 60;
      const good = await new SignJWT({
        iss: ISSUER,
        aud: AUDIENCE,
        exp,
        sub: 'someone',
        'https://tollgate.dev/consumer': IDS.consumer2,
      })
        .setProtectedHeader({ alg: 'ES256', kid: 'cfg' })
        .sign(pair.privateKey);
      const res = await gw.app.inject({
        method: 'GET',
        url: '/echo/x',
        headers: { authorization: `Bearer ${good}` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().headers['x-tollgate-consumer']).toBe(IDS.consumer2);
      const noClaim = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp, sub: IDS.consumer })
        .setProtectedHeader({ alg: 'ES256', kid: 'cfg' })
        .sign(pair.privateKey);
      expect(
        (
          await gw.app.inject({
            method: 'GET',
            url: '/echo/x',
            headers: { authorization: `Bearer ${noClaim}` },
          })
        ).statusCode,
      ).toBe(401);
    } finally {
      await gw.close();
      await echo.close();
    }
  });
});
