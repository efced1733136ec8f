import type { BillingDeps } from '../deps.ts';
import { ensureCustomer } from './ensure-customer.ts';

/** A Stripe Customer Portal link (payment methods, invoices) for the consumer. */
export async function createPortalSession(
  deps: BillingDeps,
  req: { consumerId: string; returnUrl: string },
): Promise<{ url: string }> {
  const customer = await ensureCustomer(deps, req.consumerId);
  const session = await deps.stripe.billingPortal.sessions.create({ customer, return_url: req.returnUrl });
  return { url: session.url };
}
