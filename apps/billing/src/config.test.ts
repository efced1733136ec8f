import { spawnSync } from 'node:child_process';
import { ConfigError } from '@tollgate/config';
import { describe, expect, it } from 'vitest';
import { localCheckoutEnabled, meterEventsPerSecond, parseBillingConfig } from './config.ts';

const base = {
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  CLICKHOUSE_URL: 'http://127.0.0.1:8123',
  BILLING_SERVICE_TOKEN: 'a-long-enough-service-token',
  STRIPE_API_BASE: 'http://127.0.0.1:12111',
};
const SECRET = 'whsec_the_endpoint_secret_stripe_shows';

function problems(env: Record<string, string | undefined>): string[] {
  try {
    parseBillingConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

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
    for (const key of ['sk_live_x', 'rk_live_x']) {
      expect(() =>
        parseBillingConfig({
          ...base,
          STRIPE_SECRET_KEY: key,
          STRIPE_WEBHOOK_SECRET: SECRET,
          STRIPE_LOCAL_CHECKOUT: 'true',
        }),
      ).toThrow(ConfigError);
      const live = parseBillingConfig({ ...base, STRIPE_SECRET_KEY: key, STRIPE_WEBHOOK_SECRET: SECRET });
      expect(localCheckoutEnabled(live)).toBe(false);
      expect(meterEventsPerSecond(live)).toBe(900);
    }
  });

  it('the public default webhook secret is refused unless Stripe is a local stand-in', () => {
    const refused = [
      { ...base, STRIPE_SECRET_KEY: 'sk_live_abc' },
      { ...base, STRIPE_SECRET_KEY: 'rk_live_abc' },
      { ...base, STRIPE_API_BASE: undefined },
      { ...base, STRIPE_SECRET_KEY: 'sk_test_real', STRIPE_API_BASE: undefined },
      { ...base, STRIPE_API_BASE: 'https://api.stripe.com' },
      { ...base, STRIPE_API_BASE: 'http://stripe-mock.internal:12111' },
      { ...base, STRIPE_WEBHOOK_SECRET: 'whsec_local_development_only', STRIPE_API_BASE: undefined },
    ];
    for (const env of refused) {
      const found = problems(env);
      expect(found, JSON.stringify(env)).toHaveLength(1);
      expect(found[0]).toMatch(/^STRIPE_WEBHOOK_SECRET: /);
    }
    for (const env of [
      base,
      { ...base, STRIPE_API_BASE: 'http://localhost:12111' },
      { ...base, STRIPE_API_BASE: 'http://[::1]:12111' },
      { ...base, STRIPE_SECRET_KEY: 'rk_test_abc' },
      {
        ...base,
        STRIPE_SECRET_KEY: 'sk_live_abc',
        STRIPE_API_BASE: undefined,
        STRIPE_WEBHOOK_SECRET: SECRET,
      },
    ])
      expect(problems(env), JSON.stringify(env)).toEqual([]);
  });

  it('lists every bad variable by name', () => {
    const found = problems({ DATABASE_URL: 'nope', BILLING_USAGE_WINDOW_SECONDS: '7' }).join('\n');
    for (const name of [
      'DATABASE_URL',
      'CLICKHOUSE_URL',
      'BILLING_SERVICE_TOKEN',
      'BILLING_USAGE_WINDOW_SECONDS',
    ])
      expect(found).toContain(name);
  });

  it('billing started with a live key and the default webhook secret exits 1 naming the variable', () => {
    const run = spawnSync('npx', ['tsx', 'apps/billing/src/main.ts'], {
      encoding: 'utf8',
      cwd: new URL('../../../', import.meta.url).pathname,
      // Everything else valid: the webhook secret is the only reason to refuse.
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...base,
        STRIPE_SECRET_KEY: 'sk_live_0123456789abcdef',
        STRIPE_API_BASE: undefined,
      },
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('STRIPE_WEBHOOK_SECRET');
    expect(run.stderr).not.toContain('DATABASE_URL');
  });
});
