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
 * With STRIPE_SECRET_KEY set to a real test-mode key, billing talks to Stripe; otherwise to
 * stripe-mock at STRIPE_API_BASE with its well-known fake key.
 */
export const stripeEnv = z.object({
  STRIPE_SECRET_KEY: z
    .string()
    .regex(/^sk_(test|live)_/)
    .default('sk_test_123'),
  STRIPE_API_BASE: z.url().optional(),
  STRIPE_WEBHOOK_SECRET: z.string().min(1).default('whsec_local_development_only'),
});

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

export { z };
