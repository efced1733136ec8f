import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';

export const ReinstateConsumerSchema = z.object({ id: uuid });

export async function reinstateConsumer(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id } = parseInput(ReinstateConsumerSchema, input);
  await deps().prisma.$transaction(async (tx) => {
    const before = await tx.consumer.findUnique({ where: { id } });
    if (!before) throw notFound('Consumer');
    await tx.consumer.update({ where: { id }, data: { status: 'active', suspendedReason: null } });
    await writeAudit(
      tx,
      actor,
      'consumer.reinstate',
      { type: 'consumer', id },
      { status: before.status, suspendedReason: before.suspendedReason },
      { status: 'active', suspendedReason: null },
    );
  });
}
