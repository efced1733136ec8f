import { ConfigError } from '@tollgate/config';
import { describe, expect, it } from 'vitest';
import { localCheckoutEnabled, meterEventsPerSecond, parseBillingConfig } from './config.ts';

const base = {
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  CLICKHOUSE_URL: 'http://127.0.0.1:8123',
  BILLING_SERVICE_TOKEN: 'a-long-enough-service-token',
};

describe('billing config', () => {
  it('defaults to stripe-mock with the local test checkout on', () => {
    const c = parseBillingConfig(base);
    expect(c.STRIPE_SECRET_KEY).toBe('sk_test_123');
    expect(localCheckoutEnabled(c)).toBe(true);
    expect(c.BILLING_USAGE_WINDOW_SECONDS).toBe(3600);
    expect(meterEventsPerSecond(c)).toBe(20);
  });

  it('the local test checkout is off for a real test key unless asked for', () => {
    const c = parseBillingConfig({ ...base, STRIPE_SECRET_KEY: 'sk_test_realkey' });
    expect(localCheckoutEnabled(c)).toBe(false);
    expect(
      localCheckoutEnabled(
        parseBillingConfig({ ...base, STRIPE_SECRET_KEY: 'sk_test_realkey', STRIPE_LOCAL_CHECKOUT: 'true' }),
      ),
    ).toBe(true);
  });

  it('can never be enabled with a live key', () => {
    expect(() =>
      parseBillingConfig({ ...base, STRIPE_SECRET_KEY: 'sk_live_x', STRIPE_LOCAL_CHECKOUT: 'true' }),
    ).toThrow(ConfigError);
    const live = parseBillingConfig({ ...base, STRIPE_SECRET_KEY: 'sk_live_x' });
    expect(localCheckoutEnabled(live)).toBe(false);
    expect(meterEventsPerSecond(live)).toBe(900);
  });

  it('lists every bad variable by name', () => {
    try {
      parseBillingConfig({ DATABASE_URL: 'nope', BILLING_USAGE_WINDOW_SECONDS: '7' });
      expect.unreachable();
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      for (const name of [
        'DATABASE_URL',
        'CLICKHOUSE_URL',
        'BILLING_SERVICE_TOKEN',
        'BILLING_USAGE_WINDOW_SECONDS',
      ])
        expect(problems).toContain(name);
    }
  });
});
