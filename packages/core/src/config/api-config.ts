import { z } from 'zod';
import { ConfigPathSchema, HealthCheckPathSchema, isCanonicalConfigPath } from './config-path.ts';
import { ApiHostSchema, UpstreamHostSchema } from './host.ts';

/**
 * The rows of the provider configuration the gateway serves: an API, its routes and its
 * upstream targets. The admin API and the portal's forms parse their input with these schemas
 * (through the portal's form coercions) and the gateway's compiler validates every row it loads
 * with them, so what an admin can save is exactly what the gateway applies.
 */

/** Methods the gateway proxies (it answers any other with 404). */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
export const PATH_MATCHES = ['prefix', 'exact'] as const;
export type PathMatch = (typeof PATH_MATCHES)[number];
export const LOAD_BALANCING = ['round_robin', 'least_outstanding'] as const;

const dedupe = <T>(items: T[]): T[] => [...new Set(items)];

export const DisplayNameSchema = z
  .string()
  .trim()
  .min(1, 'required')
  .max(100)
  .refine((s) => !/\p{Cc}/u.test(s), 'no control characters');

export const SlugSchema = z
  .string()
  .trim()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes (at most 63)');

export const RouteConfigSchema = z.object({
  name: DisplayNameSchema,
  /** Empty means every method. */
  methods: z
    .array(z.enum(HTTP_METHODS, { message: `one of ${HTTP_METHODS.join(', ')}` }))
    .max(HTTP_METHODS.length * 2)
    .transform(dedupe),
  /** Below the API's base path. */
  path: ConfigPathSchema,
  cost: z.number().int().min(0).max(1_000_000),
  timeoutMs: z.number().int().min(100).max(300_000),
  public: z.boolean(),
  /** prefix: this path and every path below it (on segment boundaries); exact: this path only. */
  pathMatch: z.enum(PATH_MATCHES, { message: 'prefix or exact' }),
});
export type RouteConfig = z.infer<typeof RouteConfigSchema>;

/** An http(s) origin with an optional canonical path; no credentials, query or fragment. Stored as its href. */
export const UpstreamUrlSchema = z
  .string()
  .trim()
  .max(500)
  .transform((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'an http(s) URL such as http://10.0.0.5:8080' });
      return z.NEVER;
    }
    const problem =
      url.protocol !== 'http:' && url.protocol !== 'https:'
        ? 'must be an http or https URL'
        : url.username !== '' || url.password !== ''
          ? 'must not contain credentials'
          : value.includes('?') || value.includes('#')
            ? 'must not have a query string or fragment'
            : url.hostname === ''
              ? 'must name a host'
              : !isCanonicalConfigPath(url.pathname)
                ? 'its path must be a canonical path (segments of letters, digits and -._~)'
                : null;
    if (problem !== null) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return url.href;
  });

export const UpstreamTargetSchema = z.object({
  url: UpstreamUrlSchema,
  /** Relative share of requests (the gateway's rotation holds at most 100 slots per target). */
  weight: z.number().int().min(1).max(100),
  /** GET this path on the target to check its health; null: passive health only. */
  healthCheckPath: HealthCheckPathSchema.nullable(),
});
export type UpstreamTargetConfig = z.infer<typeof UpstreamTargetSchema>;

export const ApiConfigSchema = z.object({
  slug: SlugSchema,
  /** Hosts the API answers on; empty means any host. */
  hosts: z.array(ApiHostSchema).max(50).transform(dedupe),
  basePath: ConfigPathSchema,
  stripBasePath: z.boolean(),
  /** Host header sent upstream; null keeps the target's own host. */
  upstreamHost: UpstreamHostSchema.nullable(),
  loadBalancing: z.enum(LOAD_BALANCING),
  /** Largest request body forwarded; null: the gateway's default. */
  maxBodyBytes: z.number().int().min(0).max(2_147_483_647).nullable(),
});
export type ApiConfig = z.infer<typeof ApiConfigSchema>;

const RowIdSchema = z.string().min(1).max(100);

/** A whole API as the gateway loads it: the API row with its routes and targets. */
export const ApiRowSchema = ApiConfigSchema.extend({
  id: RowIdSchema,
  routes: z.array(RouteConfigSchema.extend({ id: RowIdSchema })).max(1000),
  targets: z.array(UpstreamTargetSchema.extend({ id: RowIdSchema })).max(100),
});
export type ValidApi = z.infer<typeof ApiRowSchema>;
export type ValidRoute = ValidApi['routes'][number];
export type ValidTarget = ValidApi['targets'][number];
