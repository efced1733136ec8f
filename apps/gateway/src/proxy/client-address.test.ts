import type { IncomingMessage } from 'node:http';
import { parseTrustedProxies } from '@tollgate/config';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientAddressOf } from './client-address.ts';

function req(remoteAddress: string, xff?: string): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  } as unknown as IncomingMessage;
}

describe('client address (what per-address bounds count against)', () => {
  const trusted = parseTrustedProxies(['10.0.0.0/8']);

  it('is the socket peer unless the peer is a trusted proxy: a spoofed X-Forwarded-For from anyone else changes nothing', () => {
    expect(clientAddressOf(req('203.0.113.9', '198.51.100.1'), trusted)).toBe('203.0.113.9');
    expect(clientAddressOf(req('203.0.113.9', '198.51.100.1'), null)).toBe('203.0.113.9');
    expect(clientAddressOf(req('10.1.2.3'), trusted)).toBe('10.1.2.3');
  });

  it('behind trusted proxies: the nearest untrusted hop, read from the right (entries a client wrote itself are ignored)', () => {
    expect(clientAddressOf(req('10.0.0.1', '198.51.100.1'), trusted)).toBe('198.51.100.1');
    expect(clientAddressOf(req('10.0.0.1', '6.6.6.6, 198.51.100.1, 10.9.9.9'), trusted)).toBe('198.51.100.1');
    // Every hop trusted: the leftmost.
    expect(clientAddressOf(req('10.0.0.1', '10.2.2.2, 10.3.3.3'), trusted)).toBe('10.2.2.2');
    // Garbage from a trusted hop: the request is that hop's.
    expect(clientAddressOf(req('10.0.0.1', 'nonsense, 10.3.3.3'), trusted)).toBe('10.3.3.3');
    expect(clientAddressOf(req('10.0.0.1', 'nonsense'), trusted)).toBe('10.0.0.1');
  });

  it('whatever a client puts in X-Forwarded-For, it cannot choose its address unless its peer is trusted (property)', () => {
    fc.assert(
      fc.property(
        fc.ipV4(),
        fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), { maxLength: 5 }),
        (peer, hops) => {
          fc.pre(!peer.startsWith('10.'));
          expect(clientAddressOf(req(peer, hops.join(', ')), trusted)).toBe(peer);
        },
      ),
    );
  });
});
