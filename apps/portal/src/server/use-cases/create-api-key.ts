import { z } from '@tollgate/config';
import { generateApiKey } from '@tollgate/core';
import type { Actor } from '../actor.ts';
import { ownConsumerId } from '../auth/require-user.ts';
import { deps } from '../deps.ts';
import { parseInput, TollgateError } from '../errors.ts';
import { stringList } from '../schemas.ts';

export const CreateApiKeySchema = z.object({
  name: z.string().trim().min(1, 'give the key a name').max(80),
  scopes: stringList(z.string().regex(/^[a-z0-9:._*-]{1,64}$/, 'scopes are lowercase words like read:echo')),
  /** Days until the key expires; blank or 0 means never. */
  expiresInDays: z.preprocess(
    (v) => (v === '' || v === undefined || v === null ? 0 : v),
    z.coerce.number().int().min(0).max(3650),
  ),
});

export interface CreatedKey {
  id: string;
  secret: string;
  prefix: string;
  lastFour: string;
}

/** A new key for the actor's own consumer. The secret is returned once and never stored. */
export async function createApiKey(actor: Actor, input: unknown): Promise<CreatedKey> {
  const consumerId = ownConsumerId(actor);
  const data = parseInput(CreateApiKeySchema, input);
  const prisma = deps().prisma;
  const consumer = await prisma.consumer.findUnique({ where: { id: consumerId }, select: { status: true } });
  if (consumer?.status !== 'active') {
    throw new TollgateError(
      'forbidden',
      'CONSUMER_SUSPENDED',
      'Your account is suspended: new keys cannot be created.',
    );
  }
  const active = await prisma.apiKey.count({ where: { consumerId, revokedAt: null } });
  if (active >= 50)
    throw new TollgateError(
      'conflict',
      'TOO_MANY_KEYS',
      'You already have 50 active keys. Revoke one first.',
    );
  const key = generateApiKey('live');
  const row = await prisma.apiKey.create({
    data: {
      consumerId,
      name: data.name,
      prefix: key.prefix,
      hash: key.hash,
      lastFour: key.lastFour,
      scopes: data.scopes,
      expiresAt: data.expiresInDays > 0 ? new Date(Date.now() + data.expiresInDays * 86_400_000) : null,
    },
  });
  return { id: row.id, secret: key.key, prefix: key.prefix, lastFour: key.lastFour };
}
