import Stripe from 'stripe';

/**
 * How a failed Stripe call should be treated. `retry`: 429, 5xx, timeouts and connection
 * errors (the request may or may not have been processed: retry with the same idempotency key).
 * `duplicate`: Stripe already holds a meter event with this identifier, so it was delivered.
 * `fatal`: the request is wrong and retrying cannot help.
 */
export type StripeFailure = 'retry' | 'duplicate' | 'fatal';

export function classifyStripeError(err: unknown): StripeFailure {
  if (err instanceof Stripe.errors.StripeConnectionError) return 'retry';
  if (err instanceof Stripe.errors.StripeError) {
    const status = err.statusCode;
    if (status === 400 && /already exists with identifier/i.test(err.message)) return 'duplicate';
    if (status === undefined) return 'retry';
    if (status === 429 || status === 409 || status >= 500) return 'retry';
    return 'fatal';
  }
  if (err instanceof Error && /timeout|ECONNRESET|ECONNREFUSED|socket hang up|EPIPE/i.test(err.message))
    return 'retry';
  return 'fatal';
}

export function stripeStatusCode(err: unknown): number | undefined {
  return err instanceof Stripe.errors.StripeError ? err.statusCode : undefined;
}

export function isStripeNotFound(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeError && err.statusCode === 404;
}
