import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { parseInput, TollgateError } from '../errors.ts';
import { trimmed } from '../schemas.ts';

export const CreateConsumerSchema = z.object({
  name: trimmed(200),
  /** The provider's own id for this consumer (its sign-up flow, CRM); unique. */
  externalId: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional(),
});

/**
 * An admin creates a consumer with no members, keys or subscription (the provider's own sign-up
 * flow adds those next). A taken externalId is a 409 naming the consumer that has it, so a
 * provider retrying after a lost answer finds the one it created.
 */
export async function createConsumer(actor: Actor, input: unknown): Promise<{ id: string }> {
  assertRole(actor, ['admin']);
  const data = parseInput(CreateConsumerSchema, input);
  return deps().prisma.$transaction(async (tx) => {
    if (data.externalId !== undefined) {
      const taken = await tx.consumer.findUnique({
        where: { externalId: data.externalId },
        select: { id: true },
      });
      if (taken)
        throw new TollgateError(
          'conflict',
          'EXTERNAL_ID_TAKEN',
          `externalId "${data.externalId}" is already consumer ${taken.id}.`,
          { details: { consumerId: taken.id } },
        );
    }
    const row = await tx.consumer.create({
      data: { name: data.name, externalId: data.externalId ?? null },
    });
    await writeAudit(tx, actor, 'consumer.create', { type: 'consumer', id: row.id }, undefined, {
      name: row.name,
      externalId: row.externalId,
    });
    return { id: row.id };
  });
}
