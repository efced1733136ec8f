import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { auditActor } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';
import { billing } from '../services/billing.ts';
import { serviceError } from '../services/call-service.ts';

export const ChangeConsumerPlanSchema = z.object({ id: uuid, planId: uuid });

/**
 * An admin moves a consumer to any plan (private ones included) through billing, which owns
 * subscriptions and Stripe. Billing writes the audit row (billing.subscription.plan_changed, with
 * this admin as the actor) in the transaction that changes the subscription, so the log never
 * holds a change that did not happen or misses one that did. Billing's 409 (already on the plan)
 * stays 409. A consumer with no live subscription (a developer who just signed up, or one the
 * admin API created) is started on the plan without a checkout when it charges nothing; a paid
 * plan answers billing's 409 CHECKOUT_REQUIRED.
 */
export async function changeConsumerPlan(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id, planId } = parseInput(ChangeConsumerPlanSchema, input);
  const prisma = deps().prisma;
  if (!(await prisma.consumer.findUnique({ where: { id }, select: { id: true } })))
    throw notFound('Consumer');
  if (!(await prisma.plan.findUnique({ where: { id: planId }, select: { id: true } })))
    throw notFound('Plan');
  const live = await prisma.subscription.findFirst({
    where: { consumerId: id, status: { in: ['active', 'trialing', 'past_due'] } },
    select: { id: true },
  });
  const body = { consumerId: id, planId, actor: auditActor(actor) };
  const res = live === null ? await billing.start(body) : await billing.change(body);
  if (!res.ok) throw serviceError('billing', res);
}
