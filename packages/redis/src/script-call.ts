import { createHash } from 'node:crypto';
import { TollgateError } from '@tollgate/core';
import type { Redis } from 'ioredis';

/**
 * How the Redis adapters call their Lua scripts: EVALSHA through ioredis `defineCommand` (which
 * falls back to EVAL once on NOSCRIPT, e.g. after a Redis restart), under a local deadline, with
 * every failure turned into LimiterUnavailableError (the gateway maps it to the plan's failure
 * policy). Used by RedisLimiter and RedisLeaseStore.
 */

export class LimiterUnavailableError extends TollgateError {
  constructor(message: string, cause?: unknown) {
    super('unavailable', 'LIMITER_UNAVAILABLE', message, { retryable: true, cause });
    this.name = 'LimiterUnavailableError';
  }
}

export function isLimiterUnavailable(err: unknown): err is LimiterUnavailableError {
  return err instanceof LimiterUnavailableError;
}

export type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Defines `lua` as a command on this client (once per client and script text: the name carries
 * the script's hash). `numberOfKeys` null: each call passes its key count first.
 */
export function defineScript(redis: Redis, base: string, lua: string, numberOfKeys: number | null): ScriptFn {
  const sha = createHash('sha1').update(lua).digest('hex');
  const name = `${base}_${sha.slice(0, 12)}`;
  const commands = redis as unknown as Record<string, ScriptFn | undefined>;
  if (typeof commands[name] !== 'function') {
    redis.defineCommand(name, numberOfKeys === null ? { lua } : { numberOfKeys, lua });
  }
  const fn = commands[name];
  if (fn === undefined) throw new Error(`ioredis did not define ${name}`);
  return fn.bind(redis);
}

/**
 * Runs one script call under a local deadline of `timeoutMs` (on top of the client's command
 * timeout, which also covers the NOSCRIPT→EVAL fallback). `what` names the call in the error.
 */
export function callScript(
  fn: ScriptFn,
  args: (string | number)[],
  timeoutMs: number,
  what: string,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    // The deadline is checked once more after the loop's next I/O poll: a timer that fires late
    // because this process's own loop lagged must not beat a reply already on the socket.
    const expire = () => {
      if (settled) return;
      settled = true;
      reject(new LimiterUnavailableError(`${what} timed out after ${timeoutMs} ms`));
    };
    const timer = setTimeout(() => setImmediate(expire), timeoutMs);
    let pending: Promise<unknown>;
    try {
      pending = fn(...args);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const msg = err instanceof Error ? err.message : String(err);
        reject(new LimiterUnavailableError(`${what} failed: ${msg}`, err));
      },
    );
  });
}
