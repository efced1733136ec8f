import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';

export const RemoveConsumerMemberSchema = z.object({ id: uuid, userId: uuid });

/** Removes a member from a consumer (the user account stays); not a member is a 404. */
export async function removeConsumerMember(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id, userId } = parseInput(RemoveConsumerMemberSchema, input);
  await deps().prisma.$transaction(async (tx) => {
    const member = await tx.consumerMember.findUnique({
      where: { consumerId_userId: { consumerId: id, userId } },
      include: { user: { select: { email: true } } },
    });
    if (!member) throw notFound('Member');
    await tx.consumerMember.delete({ where: { consumerId_userId: { consumerId: id, userId } } });
    await writeAudit(
      tx,
      actor,
      'consumer.member_remove',
      { type: 'consumer', id },
      { email: member.user.email, role: member.role },
      undefined,
    );
  });
}
