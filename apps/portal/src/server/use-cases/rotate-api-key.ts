import { z } from '@tollgate/config';
import { generateApiKey } from '@tollgate/core';
import type { Actor } from '../actor.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';
import { assertKeyCapacity } from './api-key-capacity.ts';
import { assertMayManageKey, auditKey } from './audit-api-key.ts';
import type { CreatedKey } from './create-api-key.ts';

export const RotateApiKeySchema = z.object({
  keyId: uuid,
  /** How long the old key keeps working, so clients can switch without downtime. */
  overlapHours: z.coerce.number().int().min(0).max(720).default(24),
});

/**
 * Issues a replacement key (same name, scopes and expiry) and sets the old key to expire after
 * the overlap: both keys work until then, so a rotation with an overlap counts against the cap
 * of working keys like a new key (one with no overlap replaces the old key at once).
 */
export async function rotateApiKey(
  actor: Actor,
  input: unknown,
): Promise<CreatedKey & { oldKeyExpiresAt: string }> {
  const data = parseInput(RotateApiKeySchema, input);
  const prisma = deps().prisma;
  const old = await prisma.apiKey.findUnique({ where: { id: data.keyId } });
  if (!old || old.revokedAt) throw notFound('Key');
  assertMayManageKey(actor, old.consumerId);
  const now = new Date();
  const overlapEnd = new Date(now.getTime() + data.overlapHours * 3_600_000);
  const oldExpiresAt = old.expiresAt && old.expiresAt < overlapEnd ? old.expiresAt : overlapEnd;
  const key = generateApiKey('live');
  const created = await prisma.$transaction(async (tx) => {
    // Working keys after the rotation: the new one, and the old one while its overlap runs.
    const oldWorksNow = old.expiresAt === null || old.expiresAt > now;
    const oldStillWorks = oldExpiresAt > now;
    const adding = oldWorksNow ? (oldStillWorks ? 1 : 0) : 1;
    await assertKeyCapacity(tx, old.consumerId, adding, now, 'Revoke one first, or rotate with no overlap.');
    await tx.apiKey.update({ where: { id: old.id }, data: { expiresAt: oldExpiresAt } });
    const replacement = await tx.apiKey.create({
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
    if (actor.role === 'admin')
      await auditKey(tx, actor, 'api_key.rotate', replacement, { id: old.id, expiresAt: oldExpiresAt });
    return replacement;
  });
  return {
    id: created.id,
    secret: key.key,
    prefix: key.prefix,
    lastFour: key.lastFour,
    oldKeyExpiresAt: oldExpiresAt.toISOString(),
  };
}
