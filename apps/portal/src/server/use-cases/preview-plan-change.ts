import type { Actor } from '../actor.ts';
import { ownConsumerId } from '../auth/require-user.ts';
import { parseInput } from '../errors.ts';
import { billing } from '../services/billing.ts';
import { serviceError } from '../services/call-service.ts';
import { PlanChoiceSchema, publicPlan } from './plan-choice.ts';

export async function previewPlanChange(
  actor: Actor,
  input: unknown,
): Promise<{ preview: Record<string, unknown> }> {
  const consumerId = ownConsumerId(actor);
  const { planId } = parseInput(PlanChoiceSchema, input);
  await publicPlan(planId);
  const res = await billing.previewChange({ consumerId, planId });
  if (!res.ok) throw serviceError('billing', res);
  return { preview: res.data };
}
