import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { classifyStripeError } from './errors.ts';

const apiError = (statusCode: number, message: string, type = 'api_error') =>
  Stripe.errors.StripeError.generate({ type, message, statusCode } as never);

describe('classifyStripeError', () => {
  it('retries rate limits, server errors and connection failures', () => {
    expect(classifyStripeError(apiError(429, 'Too many requests', 'rate_limit_error'))).toBe('retry');
    expect(classifyStripeError(apiError(500, 'oops'))).toBe('retry');
    expect(classifyStripeError(apiError(503, 'oops'))).toBe('retry');
    expect(
      classifyStripeError(new Stripe.errors.StripeConnectionError({ message: 'socket hang up' } as never)),
    ).toBe('retry');
  });

  it('treats a duplicate meter event identifier as delivered', () => {
    expect(
      classifyStripeError(
        apiError(400, 'An event already exists with identifier sub:1.', 'invalid_request_error'),
      ),
    ).toBe('duplicate');
  });

  it('does not retry invalid requests', () => {
    expect(classifyStripeError(apiError(400, 'Missing required param', 'invalid_request_error'))).toBe(
      'fatal',
    );
    expect(classifyStripeError(apiError(401, 'Invalid API key', 'authentication_error'))).toBe('fatal');
  });
});
