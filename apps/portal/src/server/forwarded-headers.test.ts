import { describe, expect, it } from 'vitest';
import { readForwarded, setAsideForwardedHeaders } from './forwarded-headers.ts';

/** What the middleware and then Next's request handler (src/main.ts) do to a request's headers. */
function throughProxyAndNext(incoming: Record<string, string>, socketPeer: string): Headers {
  const headers = new Headers(incoming);
  setAsideForwardedHeaders(headers);
  // base-server.js: x-forwarded-for ??= socket.remoteAddress (absent now, so the peer is written)
  if (!headers.has('x-forwarded-for')) headers.set('x-forwarded-for', socketPeer);
  if (!headers.has('x-forwarded-proto')) headers.set('x-forwarded-proto', 'http');
  return headers;
}

describe('forwarded headers', () => {
  it('the peer is what Next wrote from the socket; what the client sent is kept aside, apart', () => {
    const view = readForwarded(
      throughProxyAndNext(
        {
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-proto': 'https',
          'x-tollgate-client-forwarded-for': '198.51.100.1',
        },
        '127.0.0.2',
      ),
    );
    expect(view).toEqual({
      peer: '127.0.0.2',
      socketProto: 'http',
      clientForwardedFor: '203.0.113.9',
      clientForwardedProto: 'https',
    });
  });

  it('a request that did not pass the middleware has no known peer, whatever it claims', () => {
    const forged = new Headers({
      'x-forwarded-for': '203.0.113.9',
      'x-tollgate-forwarded-stamp': 'guessed',
      'x-tollgate-client-forwarded-for': '203.0.113.9',
    });
    expect(readForwarded(forged)).toEqual({
      peer: null,
      socketProto: 'http',
      clientForwardedFor: null,
      clientForwardedProto: null,
    });
  });
});
