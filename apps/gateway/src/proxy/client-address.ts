import type { IncomingMessage } from 'node:http';
import { addressKey, clientAddress, isTrustedPeer, type TrustedProxies } from '@tollgate/config';

/**
 * The client address that per-address bounds count against: @tollgate/config's rule (the socket
 * peer, or behind GATEWAY_TRUSTED_PROXIES the nearest untrusted X-Forwarded-For hop, read from
 * the right), bucketed by `addressKey` (an IPv6 client counts as its /64). The peer's key and
 * whether it is trusted are computed once per connection.
 */

const kTrusted = Symbol('tollgate.trustedPeer');
const kPeerKey = Symbol('tollgate.peerAddressKey');

type MarkedSocket = IncomingMessage['socket'] & { [kTrusted]?: boolean; [kPeerKey]?: string };

/** Whether the connection's peer is a trusted proxy (computed once per connection). */
export function peerIsTrusted(req: IncomingMessage, trustedProxies: TrustedProxies): boolean {
  const socket = req.socket as MarkedSocket;
  let trusted = socket[kTrusted];
  if (trusted === undefined) {
    trusted = isTrustedPeer(trustedProxies, socket.remoteAddress);
    socket[kTrusted] = trusted;
  }
  return trusted;
}

export function clientAddressOf(req: IncomingMessage, trustedProxies: TrustedProxies): string {
  const socket = req.socket as MarkedSocket;
  let peer = socket[kPeerKey];
  if (peer === undefined) {
    peer = addressKey(socket.remoteAddress ?? '');
    socket[kPeerKey] = peer;
  }
  if (!peerIsTrusted(req, trustedProxies)) return peer;
  const xff = req.headers['x-forwarded-for'];
  if (typeof xff !== 'string' || xff === '') return peer;
  const client = clientAddress(trustedProxies, socket.remoteAddress, xff);
  return client === null ? peer : addressKey(client);
}
