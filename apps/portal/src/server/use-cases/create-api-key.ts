import { z } from '@tollgate/config';
import { generateApiKey } from '@tollgate/core';
import type { Actor } from '../actor.ts';
import { ownConsumerId } from '../auth/require-user.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput, TollgateError } from '../errors.ts';
import { stringList } from '../schemas.ts';
import { assertKeyCapacity } from './api-key-capacity.ts';
import { auditKey } from './audit-api-key.ts';

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
  return issueApiKey(actor, ownConsumerId(actor), input);
}

/**
 * A new key for any consumer, by an admin (the admin API): the same key, cap and suspension
 * rule as a developer's own, so the gateway cannot tell them apart; the issue is audited.
 */
export async function createConsumerApiKey(
  actor: Actor,
  consumerId: string,
  input: unknown,
): Promise<CreatedKey> {
  assertRole(actor, ['admin']);
  if (!(await deps().prisma.consumer.findUnique({ where: { id: consumerId }, select: { id: true } })))
    throw notFound('Consumer');
  return issueApiKey(actor, consumerId, input);
}

async function issueApiKey(actor: Actor, consumerId: string, input: unknown): Promise<CreatedKey> {
  const data = parseInput(CreateApiKeySchema, input);
  const prisma = deps().prisma;
  const consumer = await prisma.consumer.findUnique({ where: { id: consumerId }, select: { status: true } });
  if (consumer?.status !== 'active') {
    throw new TollgateError(
      'forbidden',
      'CONSUMER_SUSPENDED',
      actor.role === 'admin'
        ? 'The consumer is suspended: new keys cannot be created.'
        : 'Your account is suspended: new keys cannot be created.',
    );
  }
  const key = generateApiKey('live');
  const now = new Date();
  const row = await prisma.$transaction(async (tx) => {
    await assertKeyCapacity(tx, consumerId, 1, now);
    const created = await tx.apiKey.create({
      data: {
        consumerId,
        name: data.name,
        prefix: key.prefix,
        hash: key.hash,
        lastFour: key.lastFour,
        scopes: data.scopes,
        expiresAt: data.expiresInDays > 0 ? new Date(now.getTime() + data.expiresInDays * 86_400_000) : null,
      },
    });
    if (actor.role === 'admin') await auditKey(tx, actor, 'api_key.create', created);
    return created;
  });
  return { id: row.id, secret: key.key, prefix: key.prefix, lastFour: key.lastFour };
}
