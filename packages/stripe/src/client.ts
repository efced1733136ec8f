import Stripe from 'stripe';

/**
 * The only module that imports the stripe SDK. With no apiBase it talks to api.stripe.com
 * (use a `sk_test_` key for test mode); with apiBase (the local stripe-mock, or our fault
 * injecting fake in tests) it talks there over plain HTTP.
 */
export interface StripeOptions {
  secretKey: string;
  apiBase?: string | undefined;
  maxNetworkRetries?: number;
  timeoutMs?: number;
}

export function createStripe(opts: StripeOptions): Stripe {
  const config: Stripe.StripeConfig = {
    maxNetworkRetries: opts.maxNetworkRetries ?? 0,
    timeout: opts.timeoutMs ?? 10_000,
    telemetry: false,
  };
  if (opts.apiBase !== undefined) {
    const url = new URL(opts.apiBase);
    config.host = url.hostname;
    config.port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    config.protocol = url.protocol === 'https:' ? 'https' : 'http';
  }
  return new Stripe(opts.secretKey, config);
}

export { Stripe };
