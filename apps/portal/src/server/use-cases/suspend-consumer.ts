import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { optionalText, uuid } from '../schemas.ts';

export const SuspendConsumerSchema = z.object({ id: uuid, reason: optionalText(500) });

export async function suspendConsumer(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id, reason } = parseInput(SuspendConsumerSchema, input);
  await deps().prisma.$transaction(async (tx) => {
    const before = await tx.consumer.findUnique({ where: { id } });
    if (!before) throw notFound('Consumer');
    const after = await tx.consumer.update({
      where: { id },
      data: { status: 'suspended', suspendedReason: reason || 'suspended by an administrator' },
    });
    await writeAudit(
      tx,
      actor,
      'consumer.suspend',
      { type: 'consumer', id },
      { status: before.status, suspendedReason: before.suspendedReason },
      { status: after.status, suspendedReason: after.suspendedReason },
    );
  });
}
