import { z } from '@tollgate/config';
import { generateApiKey } from '@tollgate/core';
import type { Actor } from '../actor.ts';
import { assertOwnsConsumer } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';
import type { CreatedKey } from './create-api-key.ts';

export const RotateApiKeySchema = z.object({
  keyId: uuid,
  /** How long the old key keeps working, so clients can switch without downtime. */
  overlapHours: z.coerce.number().int().min(0).max(720).default(24),
});

/**
 * Issues a replacement key (same name, scopes and expiry) and sets the old key to expire after
 * the overlap: both keys work until then.
 */
export async function rotateApiKey(
  actor: Actor,
  input: unknown,
): Promise<CreatedKey & { oldKeyExpiresAt: string }> {
  const data = parseInput(RotateApiKeySchema, input);
  const prisma = deps().prisma;
  const old = await prisma.apiKey.findUnique({ where: { id: data.keyId } });
  if (!old || old.revokedAt) throw notFound('Key');
  assertOwnsConsumer(actor, old.consumerId, 'Key');
  const overlapEnd = new Date(Date.now() + data.overlapHours * 3_600_000);
  const oldExpiresAt = old.expiresAt && old.expiresAt < overlapEnd ? old.expiresAt : overlapEnd;
  const key = generateApiKey('live');
  const created = await prisma.$transaction(async (tx) => {
    await tx.apiKey.update({ where: { id: old.id }, data: { expiresAt: oldExpiresAt } });
    return tx.apiKey.create({
      data: {
        consumerId: old.consumerId,
        name: old.name,
        prefix: key.prefix,
        hash: key.hash,
        lastFour: key.lastFour,
        scopes: old.scopes,
        expiresAt: old.expiresAt && old.expiresAt > overlapEnd ? old.expiresAt : null,
      },
    });
  });
  return {
    id: created.id,
    secret: key.key,
    prefix: key.prefix,
    lastFour: key.lastFour,
    oldKeyExpiresAt: oldExpiresAt.toISOString(),
  };
}
