import type { Actor } from '../actor.ts';
import { ownConsumerId } from '../auth/require-user.ts';
import { TollgateError } from '../errors.ts';
import { billing } from '../services/billing.ts';
import { serviceError } from '../services/call-service.ts';

/** A Stripe Customer Portal session (payment methods, receipts) for the actor's own consumer. */
export async function openBillingPortal(actor: Actor, origin: string): Promise<{ url: string }> {
  const consumerId = ownConsumerId(actor);
  const res = await billing.portalSession({ consumerId, returnUrl: `${origin}/billing` });
  if (!res.ok) throw serviceError('billing', res);
  const url = new URL(res.data.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TollgateError('unavailable', 'BAD_PORTAL_URL', 'Billing returned an invalid link.');
  }
  return { url: url.toString() };
}
