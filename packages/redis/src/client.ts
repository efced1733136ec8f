import { Redis, type RedisOptions } from 'ioredis';

/**
 * The only module that imports ioredis. Options chosen for the gateway's guarantees:
 * - no offline queue: while disconnected a command fails at once instead of queueing, so a
 *   request never waits on a reconnect and a queued EVALSHA is never replayed (applied twice)
 *   after one;
 * - no automatic retry of in-flight commands on reconnect, for the same reason;
 * - a command timeout, so a stalled Redis bounds every request's wait.
 */
export interface RedisClientOptions {
  url: string;
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  keyPrefix?: string;
  /**
   * Connection errors (refused, reset) while ioredis reconnects. Without a listener ioredis
   * prints "Unhandled error event" to stderr; the gateway counts them in a metric instead.
   */
  onError?: (err: Error) => void;
}

export function createRedis(opts: RedisClientOptions): Redis {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: opts.commandTimeoutMs ?? 50,
    connectTimeout: opts.connectTimeoutMs ?? 1000,
    lazyConnect: false,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    ...(opts.keyPrefix === undefined ? {} : { keyPrefix: opts.keyPrefix }),
  };
  const redis = new Redis(opts.url, options);
  if (opts.onError !== undefined) redis.on('error', opts.onError);
  return redis;
}

/** Resolves once connected, or rejects after the deadline. For boot and tests. */
export async function waitForRedis(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`redis not ready after ${timeoutMs} ms (status ${redis.status})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

export type { Redis } from 'ioredis';
