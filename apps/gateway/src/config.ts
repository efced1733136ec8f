import { hostname } from 'node:os';
import {
  kafkaEnv,
  loadConfig,
  logEnv,
  parseConfig,
  postgresEnv,
  redisEnv,
  trustedProxiesVar,
  z,
} from '@tollgate/config';
import { parseEgressAllowEntry } from './proxy/egress-policy.ts';

/**
 * Gateway configuration: every variable the gateway reads, parsed once at boot. The comment on
 * each variable is its documentation (copied into the README).
 */

const csv = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p.length > 0),
  );

const FORBIDDEN_JWT_ALGS = /^(none|HS\d+)$/i;
const ALLOWED_JWT_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);
const posInt = (def: number) => z.coerce.number().int().positive().default(def);

export const GatewayEnvSchema = postgresEnv
  .extend(redisEnv.shape)
  .extend(kafkaEnv.shape)
  .extend(logEnv.shape)
  .extend({
    /** Address of the public proxy listener. */
    GATEWAY_HOST: z.string().default('127.0.0.1'),
    /** Port of the public proxy listener. */
    GATEWAY_PORT: port(8080),
    /** Address of the admin listener (/healthz, /readyz, /metrics): keep it on loopback or a private network. */
    GATEWAY_ADMIN_HOST: z.string().default('127.0.0.1'),
    /** Port of the admin listener. */
    GATEWAY_ADMIN_PORT: port(9090),
    /** Identifies this instance in usage events (`source`) and logs. Default `gateway/<hostname>-<pid>`. */
    GATEWAY_INSTANCE_ID: z.string().min(1).max(120).default(`gateway/${hostname()}-${process.pid}`),
    /** Comma-separated CIDRs (or addresses) of proxies whose X-Forwarded-* headers are trusted. Default none. */
    GATEWAY_TRUSTED_PROXIES: trustedProxiesVar,
    /** Header telling the upstream which consumer called; empty disables it. */
    GATEWAY_CONSUMER_HEADER: z.string().default('x-tollgate-consumer'),
    /** Header telling the upstream the caller's plan (slug); empty disables it. */
    GATEWAY_PLAN_HEADER: z.string().default('x-tollgate-plan'),
    /** Largest request header block in bytes (Node's maxHeaderSize); above it the answer is 431. */
    GATEWAY_MAX_HEADER_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
    /** Default request body limit in bytes for APIs without max_body_bytes (413 above it). */
    GATEWAY_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .nonnegative()
      .default(10 * 1024 * 1024),
    /** A client must send its complete headers within this many ms (slowloris guard). */
    GATEWAY_HEADERS_TIMEOUT_MS: posInt(10_000),
    /** A client must send its complete request (headers and body) within this many ms. */
    GATEWAY_REQUEST_TIMEOUT_MS: posInt(120_000),
    /** Idle keep-alive timeout for client connections in ms. */
    GATEWAY_KEEP_ALIVE_TIMEOUT_MS: posInt(5_000),
    /**
     * API key cache TTL in ms: the documented bound on how long a revoked or expired key keeps
     * working on an instance that missed the api_keys notification. At most 5000.
     */
    GATEWAY_KEY_CACHE_TTL_MS: z.coerce.number().int().positive().max(5_000).default(5_000),
    /** TTL in ms of a cached "no such key" answer (how long a brand-new key may be refused). At most 5000. */
    GATEWAY_KEY_CACHE_NEGATIVE_TTL_MS: z.coerce.number().int().positive().max(5_000).default(2_000),
    /** Entries in the in-process API key cache (LRU). */
    GATEWAY_KEY_CACHE_MAX: z.coerce.number().int().positive().default(100_000),
    /** Entries of the negative key cache ("no such key" answers), bounded apart from the real keys' LRU. */
    GATEWAY_KEY_NEGATIVE_CACHE_MAX: z.coerce.number().int().positive().default(100_000),
    /**
     * Unknown-key lookups per second per client address (token bucket refill). A key the caches
     * have never seen spends a token (given back if the key exists); without one the answer is 429
     * KEY_LOOKUPS_LIMITED and Postgres is not asked.
     */
    GATEWAY_KEY_LOOKUP_BUDGET_PER_S: z.coerce.number().positive().default(5),
    /** Bucket size of the unknown-key lookup budget (lookups an address may make at once). */
    GATEWAY_KEY_LOOKUP_BUDGET_BURST: z.coerce.number().int().positive().default(20),
    /** Client addresses whose lookup budget is tracked (least recently used out first). */
    GATEWAY_KEY_LOOKUP_BUDGET_ADDRESSES: z.coerce.number().int().positive().default(100_000),
    /** Postgres key lookups running at once (the pool has 10 connections, shared with snapshot loads). */
    GATEWAY_KEY_LOOKUP_CONCURRENCY: z.coerce.number().int().positive().max(64).default(4),
    /**
     * Key lookups that may wait for a free slot (per lane: refreshes of known keys, unknown keys).
     * Past it a known key is served from its stale entry and an unknown one gets 503 KEY_LOOKUP_FAILED.
     */
    GATEWAY_KEY_LOOKUP_QUEUE: z.coerce.number().int().nonnegative().default(256),
    /**
     * Anonymous requests (public routes) in flight per client address (an IPv6 client counts as
     * its /64); 0 disables. Above it: 429 CONCURRENCY_LIMITED.
     */
    GATEWAY_MAX_CONCURRENT_PER_ADDRESS: z.coerce.number().int().nonnegative().default(64),
    /** Requests in flight per consumer, over every API; 0 disables. Above it: 429 CONCURRENCY_LIMITED. */
    GATEWAY_MAX_CONCURRENT_PER_CONSUMER: z.coerce.number().int().nonnegative().default(256),
    /**
     * Share of each upstream target's connections a holder (a consumer; anonymous traffic
     * together) is always given: floor(connections × share). Past it a holder is admitted only
     * while the target keeps that many connections' room for others (429 UPSTREAM_SHARE_EXCEEDED,
     * 503 UPSTREAM_BUSY for anonymous traffic). 1 disables.
     */
    GATEWAY_UPSTREAM_FAIR_SHARE: z.coerce.number().gt(0).max(1).default(0.25),
    /**
     * Minimum average rate of a request body in bytes/s once it streams to the upstream (after
     * GATEWAY_BODY_RATE_GRACE_MS); slower bodies get 408 BODY_TOO_SLOW and the upstream request is
     * aborted. 0 disables.
     */
    GATEWAY_MIN_BODY_RATE_BYTES_PER_S: z.coerce.number().int().nonnegative().default(1024),
    /** How long a request body may arrive at any rate before GATEWAY_MIN_BODY_RATE_BYTES_PER_S applies, in ms. */
    GATEWAY_BODY_RATE_GRACE_MS: posInt(5_000),
    /**
     * Requests in flight in this process (first byte to finish) above which new ones get 503
     * OVERLOADED + Retry-After (load shedding); 0 disables.
     */
    GATEWAY_MAX_IN_FLIGHT: z.coerce.number().int().nonnegative().default(10_000),
    /**
     * Smoothed event-loop lag in ms above which a busy gateway (event-loop utilization ≥ 0.9)
     * answers new requests with 503 OVERLOADED + Retry-After instead of taking them in; keep it
     * under REDIS_TIMEOUT_MS so the gateway sheds before its own lag makes limiter calls late.
     * 0 disables.
     */
    GATEWAY_SHED_LOOP_LAG_MS: z.coerce.number().nonnegative().default(20),
    /** Full control-plane resync period in ms (on top of LISTEN/NOTIFY). */
    GATEWAY_CONFIG_RESYNC_MS: posInt(30_000),
    /**
     * Roll an API back automatically when a change of its upstream targets fails the health
     * checks it passed before (see README "Configuration versions and rollback").
     */
    GATEWAY_CONFIG_AUTO_ROLLBACK: z.stringbool().default(true),
    /** Consecutive failed health checks of every target of a changed API that trigger the rollback. */
    GATEWAY_CONFIG_ROLLBACK_FAILED_CHECKS: z.coerce.number().int().min(1).max(100).default(3),
    /** Connections per upstream target (undici Pool size). */
    GATEWAY_UPSTREAM_CONNECTIONS: posInt(128),
    /** Connect timeout to an upstream target in ms. */
    GATEWAY_UPSTREAM_CONNECT_TIMEOUT_MS: posInt(2_000),
    /**
     * Comma-separated internal upstream addresses the gateway may connect to: CIDRs or addresses
     * (`10.0.0.0/8`, `127.0.0.1`, `::1`), `address:port` (`127.0.0.1:4010`, `[::1]:4010`) or
     * `hostname:port` (the host name as the target URL spells it). Loopback, private, link-local
     * (cloud metadata), unique-local and reserved addresses are refused otherwise (502
     * UPSTREAM_FORBIDDEN); the gateway's own proxy and admin ports always are. Default none.
     */
    GATEWAY_UPSTREAM_ALLOW: csv.superRefine((entries, ctx) => {
      for (const e of entries) {
        if (parseEgressAllowEntry(e) === null) {
          ctx.addIssue({
            code: 'custom',
            message: `${JSON.stringify(e)} is not a CIDR, an address, address:port or hostname:port`,
          });
        }
      }
    }),
    /** Retries (to another target) of idempotent requests without a body after a connection error. */
    GATEWAY_UPSTREAM_RETRIES: z.coerce.number().int().min(0).max(5).default(1),
    /** Consecutive connection failures after which a target is marked down (passive health). */
    GATEWAY_PASSIVE_HEALTH_FAILURES: posInt(3),
    /** Active health check period in ms (GET health_check_path on targets that set one). */
    GATEWAY_HEALTH_CHECK_INTERVAL_MS: posInt(5_000),
    /** Active health check timeout in ms. */
    GATEWAY_HEALTH_CHECK_TIMEOUT_MS: posInt(2_000),
    /** Consecutive failures (connection errors, timeouts, 5xx) that open a target's circuit breaker. */
    GATEWAY_BREAKER_FAILURES: posInt(5),
    /** How long an open breaker (or a passively downed target without health check) stays open, in ms. */
    GATEWAY_BREAKER_OPEN_MS: posInt(10_000),
    /** Retry-After in seconds on 503 when Redis is down and the plan fails closed. */
    GATEWAY_FAIL_CLOSED_RETRY_AFTER_S: z.coerce.number().int().positive().default(1),
    /** JWKS URL of the JWT issuer; unset (and no GATEWAY_JWT_PUBLIC_KEYS) disables JWT auth. */
    GATEWAY_JWT_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** A JWK Set as JSON (`{"keys":[...]}`) of configured public keys, instead of or besides a JWKS URL. */
    GATEWAY_JWT_PUBLIC_KEYS: z
      .string()
      .transform((s, ctx) => {
        try {
          const parsed = JSON.parse(s) as { keys?: unknown };
          if (Array.isArray(parsed.keys)) return parsed as { keys: Record<string, unknown>[] };
        } catch {
          // reported below
        }
        ctx.addIssue({ code: 'custom', message: 'must be a JWK Set: {"keys":[...]}' });
        return z.NEVER;
      })
      .optional(),
    /** Required `iss` of accepted JWTs. */
    GATEWAY_JWT_ISSUER: z.string().optional(),
    /** Required `aud` of accepted JWTs. */
    GATEWAY_JWT_AUDIENCE: z.string().optional(),
    /** Accepted JWT algorithms (asymmetric only: `none` and HS* are refused). */
    GATEWAY_JWT_ALGORITHMS: csv
      .transform((a) => (a.length === 0 ? ['RS256', 'ES256', 'EdDSA'] : a))
      .pipe(z.array(z.enum(ALLOWED_JWT_ALGS)).min(1)),
    /** Claim holding the consumer id. */
    GATEWAY_JWT_CONSUMER_CLAIM: z.string().min(1).default('sub'),
    /** Minimum ms between two JWKS fetches (a flood of unknown kids cannot cause more). */
    GATEWAY_JWT_JWKS_COOLDOWN_MS: posInt(30_000),
    /** How long a fetched JWKS is trusted before a refetch, in ms. */
    GATEWAY_JWT_JWKS_MAX_AGE_MS: posInt(600_000),
    /** JWKS fetch timeout in ms. */
    GATEWAY_JWT_JWKS_TIMEOUT_MS: posInt(2_000),
    /** Clock skew tolerated on exp/nbf, in seconds. */
    GATEWAY_JWT_CLOCK_TOLERANCE_S: z.coerce.number().int().nonnegative().default(5),
    /** Prefix of every Redis key the limiter writes (tests and shared Redis deployments isolate by it). */
    GATEWAY_REDIS_KEY_PREFIX: z.string().default('tg:rl:'),
    /**
     * Quota leasing: the gateway takes blocks of a consumer's quota (and shares of its token
     * bucket) from Redis and decides most requests locally; exact all the same (see
     * ARCHITECTURE.md). false: every request asks Redis.
     */
    GATEWAY_QUOTA_LEASING: z.stringbool().default(true),
    /** Largest block of quota units (and rate tokens) leased at once. */
    GATEWAY_QUOTA_LEASE_MAX_UNITS: posInt(256),
    /**
     * Most units a lease admits beyond its last acknowledged usage report: what a SIGKILLed
     * gateway can strand per consumer (until the period ends). Default: half the largest block.
     */
    GATEWAY_QUOTA_LEASE_WINDOW: z.coerce.number().int().positive().optional(),
    /** Lifetime of a quota lease in Redis (renewed while in use): how soon a dead gateway's units come back, in ms. */
    GATEWAY_QUOTA_LEASE_TTL_MS: posInt(10_000),
    /** A consumer's lease unused this long goes back, in ms. */
    GATEWAY_QUOTA_LEASE_IDLE_MS: posInt(2_000),
    /**
     * Longest a request waits for other gateways to hand back their unused units before it is
     * refused for quota (only when the quota is otherwise used up), in ms.
     */
    GATEWAY_QUOTA_RECLAIM_WAIT_MS: posInt(500),
    /** Directory of the usage-event spool (the sink's write-ahead log; one directory per gateway process). */
    GATEWAY_SPOOL_DIR: z.string().default('.tollgate/gateway-spool'),
    /**
     * How publish() reaches the spool. `async` (default): queued and written by the thread pool at
     * most every 5 ms; a SIGKILL loses only events published since the last write started (a few
     * milliseconds of traffic). `sync`: written before publish() returns; a SIGKILL loses nothing,
     * but a stalled disk stalls the event loop.
     */
    GATEWAY_SPOOL_WRITE_MODE: z.enum(['async', 'sync']).default('async'),
    /** fdatasync period of the spool in ms: the bound on what an OS crash or power loss can lose. */
    GATEWAY_SPOOL_FSYNC_INTERVAL_MS: z.coerce.number().int().nonnegative().default(100),
    /** Most usage events per Kafka send (all partitions; one record per partition per send). */
    GATEWAY_USAGE_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(2000),
    /** Longest an event waits for its Kafka batch to fill, in ms (fuller batches cost less CPU). */
    GATEWAY_USAGE_LINGER_MS: z.coerce.number().int().nonnegative().max(10_000).default(50),
    /** Disk bound of the spool in bytes; /readyz reports not ready above 90% of it. */
    GATEWAY_SPOOL_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(16 * 1024 * 1024)
      .default(1024 * 1024 * 1024),
    /** Kafka topic of usage events. */
    GATEWAY_USAGE_TOPIC: z.string().default('tollgate.usage.v2'),
    /** On SIGTERM/SIGINT: how long in-flight requests may take to finish, in ms. */
    GATEWAY_SHUTDOWN_GRACE_MS: posInt(10_000),
  })
  .superRefine((env, ctx) => {
    const jwtOn = env.GATEWAY_JWT_JWKS_URL !== undefined || env.GATEWAY_JWT_PUBLIC_KEYS !== undefined;
    if (jwtOn && (env.GATEWAY_JWT_ISSUER === undefined || env.GATEWAY_JWT_AUDIENCE === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['GATEWAY_JWT_ISSUER'],
        message: 'JWT auth needs GATEWAY_JWT_ISSUER and GATEWAY_JWT_AUDIENCE',
      });
    }
    for (const alg of env.GATEWAY_JWT_ALGORITHMS) {
      if (FORBIDDEN_JWT_ALGS.test(alg)) {
        ctx.addIssue({ code: 'custom', path: ['GATEWAY_JWT_ALGORITHMS'], message: `${alg} is not allowed` });
      }
    }
  });
export type GatewayEnv = z.infer<typeof GatewayEnvSchema>;

export function parseGatewayConfig(env: Record<string, string | undefined>): GatewayEnv {
  return parseConfig(GatewayEnvSchema, env);
}

export function loadGatewayConfig(): GatewayEnv {
  return loadConfig(GatewayEnvSchema, process.env);
}
