import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';
import { assertMayManageKey, auditKey } from './audit-api-key.ts';

export const RevokeApiKeySchema = z.object({ keyId: uuid });

export async function revokeApiKey(actor: Actor, input: unknown): Promise<void> {
  const data = parseInput(RevokeApiKeySchema, input);
  const prisma = deps().prisma;
  const key = await prisma.apiKey.findUnique({ where: { id: data.keyId } });
  if (!key) throw notFound('Key');
  assertMayManageKey(actor, key.consumerId);
  if (key.revokedAt) return;
  await prisma.$transaction(async (tx) => {
    const revoked = await tx.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
    if (actor.role === 'admin') await auditKey(tx, actor, 'api_key.revoke', revoked);
  });
}
