import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { auditActor } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';
import { billing } from '../services/billing.ts';
import { serviceError } from '../services/call-service.ts';

export const CancelConsumerSubscriptionSchema = z.object({ id: uuid });

/**
 * An admin ends a consumer's subscription now, through billing (which owns subscriptions and
 * Stripe and writes the audit row with this admin as the actor). None live stays billing's 404.
 */
export async function cancelConsumerSubscription(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id } = parseInput(CancelConsumerSubscriptionSchema, input);
  if (!(await deps().prisma.consumer.findUnique({ where: { id }, select: { id: true } })))
    throw notFound('Consumer');
  const res = await billing.cancel({ consumerId: id, actor: auditActor(actor) });
  if (!res.ok) throw serviceError('billing', res);
}
