import type { Actor } from '../actor.ts';
import { ownConsumerId } from '../auth/require-user.ts';
import { parseInput, TollgateError } from '../errors.ts';
import { billing } from '../services/billing.ts';
import { PlanChoiceSchema, publicPlan } from './plan-choice.ts';

/** Upgrade or downgrade the actor's own subscription through billing (which prorates). */
export async function changePlan(actor: Actor, input: unknown): Promise<void> {
  const consumerId = ownConsumerId(actor);
  const { planId } = parseInput(PlanChoiceSchema, input);
  await publicPlan(planId);
  const res = await billing.change({ consumerId, planId });
  if (!res.ok) throw new TollgateError('unavailable', 'BILLING_UNAVAILABLE', res.error);
}
