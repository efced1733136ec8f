import Stripe from 'stripe';

/** Stripe's own signature scheme (`t=…,v1=…` HMAC-SHA256 over `${t}.${rawBody}`). */
const verifier = new Stripe('sk_test_signature_only');

export function constructWebhookEvent(
  rawBody: Buffer | string,
  signatureHeader: string,
  secret: string,
  toleranceSeconds: number,
): Stripe.Event {
  return verifier.webhooks.constructEvent(rawBody, signatureHeader, secret, toleranceSeconds);
}

/** A `Stripe-Signature` header for a payload, as Stripe would send it (tests, local checkout). */
export function signWebhookPayload(payload: string, secret: string, timestampSeconds?: number): string {
  return verifier.webhooks.generateTestHeaderString({
    payload,
    secret,
    ...(timestampSeconds === undefined ? {} : { timestamp: timestampSeconds }),
  });
}

export const isSignatureError = (err: unknown): boolean =>
  err instanceof Stripe.errors.StripeSignatureVerificationError;
