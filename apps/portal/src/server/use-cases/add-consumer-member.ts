import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput, TollgateError } from '../errors.ts';
import { uuid } from '../schemas.ts';

export const AddConsumerMemberSchema = z.object({
  id: uuid,
  /** An existing portal user (a developer account); the admin API creates no users. */
  email: z.email('not an email address').trim().toLowerCase().max(254),
  role: z.enum(['owner', 'member']).default('member'),
});

/**
 * Adds an existing developer to a consumer. A developer belongs to one workspace (the portal
 * acts for a developer's first consumer), so one who is already in another is a 409; adding a
 * member again with the same role changes nothing, with another role updates it.
 */
export async function addConsumerMember(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id, email, role } = parseInput(AddConsumerMemberSchema, input);
  await deps().prisma.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT id FROM consumers WHERE id = ${id}::uuid FOR UPDATE`;
    if (!(await tx.consumer.findUnique({ where: { id }, select: { id: true } }))) throw notFound('Consumer');
    const user = await tx.user.findUnique({
      where: { email },
      select: { id: true, role: true, memberships: { select: { consumerId: true, role: true } } },
    });
    if (!user) throw notFound('User');
    if (user.role !== 'developer')
      throw new TollgateError('conflict', 'NOT_A_DEVELOPER', 'Only developer accounts can be members.');
    const current = user.memberships.find((m) => m.consumerId === id);
    const elsewhere = user.memberships.find((m) => m.consumerId !== id);
    if (elsewhere)
      throw new TollgateError(
        'conflict',
        'MEMBER_OF_ANOTHER_CONSUMER',
        'This user already belongs to another consumer.',
        { details: { consumerId: elsewhere.consumerId } },
      );
    if (current?.role === role) return;
    await tx.consumerMember.upsert({
      where: { consumerId_userId: { consumerId: id, userId: user.id } },
      create: { consumerId: id, userId: user.id, role },
      update: { role },
    });
    await writeAudit(
      tx,
      actor,
      'consumer.member_add',
      { type: 'consumer', id },
      current ? { email, role: current.role } : undefined,
      { email, role },
    );
  });
}
