import type { Actor } from '../actor.ts';
import { ownConsumerId } from '../auth/require-user.ts';
import { parseInput, TollgateError } from '../errors.ts';
import { billing } from '../services/billing.ts';
import { serviceError } from '../services/call-service.ts';
import { PlanChoiceSchema, publicPlan } from './plan-choice.ts';

/** Starts a checkout for the actor's consumer: a URL to redirect to, or immediate activation (free plans). */
export async function subscribeToPlan(
  actor: Actor,
  input: unknown,
  origin: string,
): Promise<{ url: string | null; activated: boolean }> {
  const consumerId = ownConsumerId(actor);
  const { planId } = parseInput(PlanChoiceSchema, input);
  await publicPlan(planId);
  const res = await billing.checkout({
    consumerId,
    planId,
    successUrl: `${origin}/billing?checkout=success`,
    cancelUrl: `${origin}/pricing?checkout=canceled`,
  });
  if (!res.ok) throw serviceError('billing', res);
  if (res.data.url) {
    const url = new URL(res.data.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new TollgateError(
        'unavailable',
        'BAD_CHECKOUT_URL',
        'Billing returned an invalid checkout link.',
      );
    }
    return { url: url.toString(), activated: false };
  }
  return { url: null, activated: res.data.activated === true };
}
