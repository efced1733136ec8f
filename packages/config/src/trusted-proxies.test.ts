import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig, z } from './index.ts';
import {
  clientAddress,
  isTrustedPeer,
  normalizeAddress,
  parseTrustedProxies,
  trustedProxiesVar,
} from './trusted-proxies.ts';

const PROXIES = parseTrustedProxies(['10.0.0.0/8', 'fd00::/8', '192.0.2.1']);
const trustedV4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `10.${a}.${b}.${c}`);
const untrustedV4 = fc.ipV4().filter((a) => !a.startsWith('10.') && a !== '192.0.2.1');
/** Whatever a client may put in the header: addresses, garbage, empty items, spaces. */
const anyHop = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.string({ maxLength: 20 }),
  fc.constant(''),
  fc.constant(' '),
);

describe('clientAddress', () => {
  it('an untrusted peer is the client, whatever X-Forwarded-For says', () => {
    fc.assert(
      fc.property(untrustedV4, fc.array(anyHop, { maxLength: 8 }), (peer, hops) => {
        expect(clientAddress(PROXIES, peer, hops.join(','))).toBe(peer);
        expect(clientAddress(null, peer, hops.join(','))).toBe(peer);
      }),
    );
  });

  it('behind trusted proxies, the right-most untrusted hop is the client; what it wrote to its left is ignored', () => {
    fc.assert(
      fc.property(
        trustedV4,
        fc.array(anyHop, { maxLength: 6 }),
        untrustedV4,
        fc.array(trustedV4, { maxLength: 4 }),
        (peer, forgedByClient, client, proxies) => {
          const xff = [...forgedByClient, client, ...proxies].join(', ');
          expect(clientAddress(PROXIES, peer, xff)).toBe(client);
        },
      ),
    );
  });

  it('the answer is the peer or one of the hops, never something else', () => {
    fc.assert(
      fc.property(fc.oneof(trustedV4, untrustedV4), fc.array(anyHop, { maxLength: 8 }), (peer, hops) => {
        const result = clientAddress(PROXIES, peer, hops.join(','));
        const candidates = [peer, ...hops.map((h) => normalizeAddress(h))];
        expect(candidates).toContain(result);
      }),
    );
  });

  it('when every hop is trusted, the left-most one is the client', () => {
    expect(clientAddress(PROXIES, '10.0.0.1', '10.1.1.1, 10.2.2.2')).toBe('10.1.1.1');
    expect(clientAddress(PROXIES, '10.0.0.1', '')).toBe('10.0.0.1');
    expect(clientAddress(PROXIES, '10.0.0.1', undefined)).toBe('10.0.0.1');
  });

  it('a hop that is not an address stops the walk at the trusted hop that sent it', () => {
    expect(clientAddress(PROXIES, '10.0.0.1', '203.0.113.9, 198.51.100.7:443, 10.0.0.2')).toBe('10.0.0.2');
    expect(clientAddress(PROXIES, '10.0.0.1', 'unknown')).toBe('10.0.0.1');
  });

  it('reads IPv4-mapped IPv6 peers as IPv4, and IPv6 CIDRs work', () => {
    expect(isTrustedPeer(PROXIES, '::ffff:10.1.2.3')).toBe(true);
    expect(clientAddress(PROXIES, '::ffff:10.1.2.3', '203.0.113.9')).toBe('203.0.113.9');
    expect(clientAddress(PROXIES, '::ffff:203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
    expect(clientAddress(PROXIES, 'fd12::1', '2001:DB8::5')).toBe('2001:db8::5');
    expect(clientAddress(PROXIES, '[fd12::1]', '[2001:db8::5]')).toBe('2001:db8::5');
  });

  it('an unknown peer gives no address', () => {
    expect(clientAddress(PROXIES, undefined, '203.0.113.9')).toBeNull();
    expect(clientAddress(PROXIES, 'not-an-ip', '203.0.113.9')).toBeNull();
  });
});

describe('trusted proxy list', () => {
  it('refuses entries that are not addresses or CIDRs', () => {
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/x', '::1/129', '1.2.3.4/8/8']) {
      expect(() => parseTrustedProxies([bad]), bad).toThrow(/not an address or CIDR/);
    }
    expect(parseTrustedProxies([])).toBeNull();
  });

  it('the env fragment reports every bad entry by variable name', () => {
    const schema = z.object({ X_TRUSTED_PROXIES: trustedProxiesVar });
    expect(parseConfig(schema, {}).X_TRUSTED_PROXIES).toEqual([]);
    expect(parseConfig(schema, { X_TRUSTED_PROXIES: ' 10.0.0.0/8 , ::1 ,' }).X_TRUSTED_PROXIES).toEqual([
      '10.0.0.0/8',
      '::1',
    ]);
    expect(() => parseConfig(schema, { X_TRUSTED_PROXIES: '10.0.0.0/8, proxy.internal' })).toThrow(
      /X_TRUSTED_PROXIES: proxy.internal is not an IPv4\/IPv6 address or CIDR/,
    );
  });
});
