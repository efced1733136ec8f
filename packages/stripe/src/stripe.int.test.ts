import { describe, expect, it } from 'vitest';
import { createStripe } from './client.ts';
import { constructWebhookEvent, signWebhookPayload } from './webhooks.ts';

// Against the shared stack's stripe-mock, which validates every request against Stripe's OpenAPI spec.
const apiBase = process.env.STRIPE_API_BASE ?? 'http://127.0.0.1:12111';

describe('stripe adapter', () => {
  it('creates a customer through the SDK against stripe-mock', async () => {
    const stripe = createStripe({ secretKey: 'sk_test_123', apiBase });
    const customer = await stripe.customers.create(
      { name: 'Acme', email: 'billing@acme.test', metadata: { tollgate_consumer_id: 'c-1' } },
      { idempotencyKey: `test-${Date.now()}` },
    );
    expect(customer.object).toBe('customer');
    expect(customer.id).toMatch(/^cus_/);
  });

  it('accepts a payload signed with the secret and rejects a tampered one', () => {
    const payload = JSON.stringify({
      id: 'evt_1',
      object: 'event',
      type: 'invoice.paid',
      data: { object: {} },
    });
    const header = signWebhookPayload(payload, 'whsec_test');
    expect(constructWebhookEvent(payload, header, 'whsec_test', 300).id).toBe('evt_1');
    expect(() => constructWebhookEvent(`${payload} `, header, 'whsec_test', 300)).toThrow();
    const stale = signWebhookPayload(payload, 'whsec_test', Math.floor(Date.now() / 1000) - 3600);
    expect(() => constructWebhookEvent(payload, stale, 'whsec_test', 300)).toThrow();
  });
});
