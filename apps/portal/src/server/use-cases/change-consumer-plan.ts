import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput, TollgateError } from '../errors.ts';
import { uuid } from '../schemas.ts';
import { billing } from '../services/billing.ts';

export const ChangeConsumerPlanSchema = z.object({ id: uuid, planId: uuid });

/**
 * An admin moves a consumer to any plan (private ones included) through billing, which owns
 * subscriptions and Stripe. The audit row is written after billing confirms the change.
 */
export async function changeConsumerPlan(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id, planId } = parseInput(ChangeConsumerPlanSchema, input);
  const prisma = deps().prisma;
  const consumer = await prisma.consumer.findUnique({
    where: { id },
    include: { subscriptions: { where: { status: { not: 'canceled' } }, select: { planId: true } } },
  });
  if (!consumer) throw notFound('Consumer');
  if (!(await prisma.plan.findUnique({ where: { id: planId }, select: { id: true } })))
    throw notFound('Plan');
  const res = await billing.change({ consumerId: id, planId });
  if (!res.ok) throw new TollgateError('unavailable', 'BILLING_UNAVAILABLE', res.error);
  await prisma.$transaction(async (tx) => {
    await writeAudit(
      tx,
      actor,
      'consumer.change_plan',
      { type: 'consumer', id },
      { planIds: consumer.subscriptions.map((s) => s.planId) },
      { planId },
    );
  });
}
