import { randomUUID } from 'node:crypto';
import { LeasingLimiter, type Limiter } from '@tollgate/core';
import { createRedis, limiterClientTimeoutMs, RedisLeaseStore, RedisLimiter } from '@tollgate/redis';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayEnv } from '../config.ts';

export interface BuiltLimiter {
  limiter: Limiter;
  /** The leasing limiter, when quota leasing is on (its stats feed the metrics). */
  leasing: LeasingLimiter | null;
  /** At shutdown, before the Redis client quits: gives back every leased unit, then disconnects. */
  close(): Promise<void>;
}

/**
 * The gateway's limiter: with GATEWAY_QUOTA_LEASING (default) a LeasingLimiter over the Redis
 * lease store, deciding most requests from leased units; otherwise RedisLimiter, one script call
 * per event-loop turn. Both count one quota in the same Redis keys.
 */
export function buildLimiter(config: GatewayEnv, redis: Redis, logger: Logger): BuiltLimiter {
  if (!config.GATEWAY_QUOTA_LEASING) {
    const limiter = new RedisLimiter({
      redis,
      timeoutMs: config.REDIS_TIMEOUT_MS,
      keyPrefix: config.GATEWAY_REDIS_KEY_PREFIX,
    });
    return { limiter, leasing: null, close: async () => {} };
  }
  // Pub/sub takes a connection of its own (reclaim and returned notices). Its command timeout is
  // the same backstop as the main client's: a SUBSCRIBE timed out by the gateway's own loop lag
  // would leave the store deaf to notices until the next reconnect.
  const subscriber = createRedis({
    url: config.REDIS_URL,
    commandTimeoutMs: limiterClientTimeoutMs(config.REDIS_TIMEOUT_MS),
  });
  subscriber.on('error', (err) => logger.debug({ err }, 'redis subscriber error'));
  const store = new RedisLeaseStore({
    redis,
    subscriber,
    keyPrefix: config.GATEWAY_REDIS_KEY_PREFIX,
    timeoutMs: config.REDIS_TIMEOUT_MS,
    onNoticeError: (err) => logger.warn({ err }, 'quota lease notice failed'),
  });
  const maxUnits = config.GATEWAY_QUOTA_LEASE_MAX_UNITS;
  const leasing = new LeasingLimiter({
    store,
    // A restarted process is a new holder: it never gives back (or spends) a dead one's units.
    holder: `${config.GATEWAY_INSTANCE_ID}:${randomUUID()}`,
    maxUnits,
    reportWindow: config.GATEWAY_QUOTA_LEASE_WINDOW ?? Math.max(1, Math.floor(maxUnits / 2)),
    leaseTtlMs: config.GATEWAY_QUOTA_LEASE_TTL_MS,
    idleMs: config.GATEWAY_QUOTA_LEASE_IDLE_MS,
    reclaimWaitMs: config.GATEWAY_QUOTA_RECLAIM_WAIT_MS,
  });
  return {
    limiter: leasing,
    leasing,
    close: async () => {
      try {
        await leasing.close();
      } catch (err) {
        logger.warn(
          { err },
          'giving back leased quota units at shutdown failed (they come back when the leases expire)',
        );
      }
      subscriber.disconnect();
    },
  };
}
