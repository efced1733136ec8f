import type { Actor } from '../actor.ts';
import { sha256Hex } from '../crypto.ts';
import { deps } from '../deps.ts';
import { TollgateError } from '../errors.ts';
import { clientAddressOf } from '../request-context.ts';

/**
 * Authenticates an /admin/v1 request by its bearer token (admin_tokens, hashed). Cookies are
 * never accepted here, so the REST API is not exposed to CSRF.
 */
export async function actorFromBearer(request: Request): Promise<Actor> {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer ([A-Za-z0-9_-]{10,200})$/.exec(header);
  if (!match) {
    throw new TollgateError(
      'unauthenticated',
      'TOKEN_REQUIRED',
      'Send an admin API token as "Authorization: Bearer <token>".',
    );
  }
  const prisma = deps().prisma;
  const token = await prisma.adminToken.findUnique({ where: { tokenHash: sha256Hex(match[1]!) } });
  if (!token || token.revokedAt)
    throw new TollgateError('unauthenticated', 'TOKEN_INVALID', 'The token is invalid or revoked.');
  // Best effort, at most once a minute per token.
  if (!token.lastUsedAt || Date.now() - token.lastUsedAt.getTime() > 60_000) {
    await prisma.adminToken
      .update({ where: { id: token.id }, data: { lastUsedAt: new Date() } })
      .catch(() => undefined);
  }
  return {
    kind: 'token',
    id: token.id,
    role: token.role,
    consumerIds: [],
    ip: clientAddressOf(request.headers),
  };
}
