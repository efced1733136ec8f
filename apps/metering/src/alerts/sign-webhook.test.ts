import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from './sign-webhook.ts';

describe('alert webhook signature', () => {
  it('is t=<unix>,v1=hex HMAC-SHA256(secret, t + "." + body)', () => {
    const body = '{"a":1}';
    const expected = createHmac('sha256', 'whsec').update(`1700000000.${body}`).digest('hex');
    expect(signWebhook('whsec', body, 1_700_000_000)).toBe(`t=1700000000,v1=${expected}`);
  });

  it('verifies only the same body, secret and a recent timestamp', () => {
    const header = signWebhook('s3cret', 'body', 1000);
    expect(verifyWebhookSignature('s3cret', 'body', header, 1100)).toBe(true);
    expect(verifyWebhookSignature('s3cret', 'body2', header, 1100)).toBe(false);
    expect(verifyWebhookSignature('other', 'body', header, 1100)).toBe(false);
    expect(verifyWebhookSignature('s3cret', 'body', header, 2000)).toBe(false);
  });
});
