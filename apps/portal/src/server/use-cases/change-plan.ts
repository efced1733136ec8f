import type { Actor } from '../actor.ts';
import { auditActor } from '../audit.ts';
import { ownConsumerId } from '../auth/require-user.ts';
import { parseInput } from '../errors.ts';
import { billing } from '../services/billing.ts';
import { serviceError } from '../services/call-service.ts';
import { PlanChoiceSchema, publicPlan } from './plan-choice.ts';

/**
 * Upgrade or downgrade the actor's own subscription through billing (which prorates, and writes
 * the audit row with this actor in the change's transaction). Billing's refusals keep their kind:
 * already on the plan is a 409, no live subscription a 404.
 */
export async function changePlan(actor: Actor, input: unknown): Promise<void> {
  const consumerId = ownConsumerId(actor);
  const { planId } = parseInput(PlanChoiceSchema, input);
  await publicPlan(planId);
  const res = await billing.change({ consumerId, planId, actor: auditActor(actor) });
  if (!res.ok) throw serviceError('billing', res);
}
