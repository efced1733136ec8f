import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { assertOwnsConsumer } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';

export const RevokeApiKeySchema = z.object({ keyId: uuid });

export async function revokeApiKey(actor: Actor, input: unknown): Promise<void> {
  const data = parseInput(RevokeApiKeySchema, input);
  const prisma = deps().prisma;
  const key = await prisma.apiKey.findUnique({ where: { id: data.keyId } });
  if (!key) throw notFound('Key');
  assertOwnsConsumer(actor, key.consumerId, 'Key');
  if (key.revokedAt) return;
  await prisma.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
}
