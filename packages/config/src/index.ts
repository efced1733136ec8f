import { z } from 'zod';

/**
 * Env fragments, one per service, composed by each app's src/config.ts and parsed once at
 * boot. Variable names are the contract printed by `infra/stack.sh env`.
 */
export const postgresEnv = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
});

export const redisEnv = z.object({
  REDIS_URL: z.url({ protocol: /^rediss?$/ }),
  /** Upper bound on any request's wait for Redis. */
  REDIS_TIMEOUT_MS: z.coerce.number().int().positive().default(50),
});

export const kafkaEnv = z.object({
  KAFKA_BROKERS: z
    .string()
    .min(1)
    .transform((s) => s.split(',').map((b) => b.trim()))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'host:port'))),
  KAFKA_CLIENT_ID: z.string().min(1).default('tollgate'),
});

export const clickhouseEnv = z.object({
  CLICKHOUSE_URL: z.url({ protocol: /^https?$/ }),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .default('tollgate'),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
});

/**
 * The public development webhook secret: anyone can sign events with it, so billing accepts it
 * only while it talks to a Stripe on this machine (stripe-mock or the test fake).
 */
export const DEFAULT_STRIPE_WEBHOOK_SECRET = 'whsec_local_development_only';

/**
 * With STRIPE_SECRET_KEY set to a real test-mode key, billing talks to Stripe; otherwise to
 * stripe-mock at STRIPE_API_BASE with its well-known fake key. Secret (sk_) and restricted (rk_)
 * keys are accepted.
 */
export const stripeEnv = z.object({
  STRIPE_SECRET_KEY: z
    .string()
    .regex(
      /^(sk|rk)_(test|live)_/,
      'a Stripe secret or restricted key (sk_test_, sk_live_, rk_test_, rk_live_)',
    )
    .default('sk_test_123'),
  STRIPE_API_BASE: z.url().optional(),
  STRIPE_WEBHOOK_SECRET: z.string().min(1).default(DEFAULT_STRIPE_WEBHOOK_SECRET),
});

/** A live-mode key: real money. */
export const isLiveStripeKey = (key: string): boolean => /^(sk|rk)_live_/.test(key);

/**
 * Whether the Stripe API is a local stand-in (stripe-mock, the test fake): STRIPE_API_BASE on a
 * loopback host and a test-mode key. Unset STRIPE_API_BASE means api.stripe.com.
 */
export function isLocalStripe(c: {
  STRIPE_SECRET_KEY: string;
  STRIPE_API_BASE?: string | undefined;
}): boolean {
  if (c.STRIPE_API_BASE === undefined || isLiveStripeKey(c.STRIPE_SECRET_KEY)) return false;
  const host = new URL(c.STRIPE_API_BASE).hostname;
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

export const logEnv = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export const listenEnv = (prefix: string, defaultPort: number) =>
  z.object({
    [`${prefix}_HOST`]: z.string().default('127.0.0.1'),
    [`${prefix}_PORT`]: z.coerce.number().int().min(0).max(65535).default(defaultPort),
  });

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses env against a schema; throws a ConfigError listing every bad variable by name. */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.length > 0 ? issue.path.join('.') : '(config)';
    const received = issue.path.length > 0 ? env[String(issue.path[0])] : undefined;
    return `${name}: ${issue.message}${received === undefined ? ' (not set)' : ''}`;
  });
  throw new ConfigError(problems);
}

/** For main.ts: parse, or print every problem and exit 1. */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  try {
    return parseConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

export { addressKey } from './address-key.ts';
export {
  clientAddress,
  isTrustedPeer,
  normalizeAddress,
  parseTrustedProxies,
  type TrustedProxies,
  trustedProxiesVar,
} from './trusted-proxies.ts';
export { z };
