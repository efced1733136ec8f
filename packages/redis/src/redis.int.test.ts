import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../../../infra/testing/stack.ts';
import { createRedis, waitForRedis } from './client.ts';

const redis = createRedis({ url: sharedStackEnv().REDIS_URL!, commandTimeoutMs: 2000 });
const prefix = `test:${randomUUID()}:`;

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('redis adapter against the real server', () => {
  it('EVAL runs a Lua script atomically and returns its result', async () => {
    await waitForRedis(redis);
    const script = `
      local n = redis.call('INCRBY', KEYS[1], ARGV[1])
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      return {n, redis.call('PTTL', KEYS[1])}
    `;
    const first = (await redis.eval(script, 1, `${prefix}counter`, 5, 60_000)) as [number, number];
    const second = (await redis.eval(script, 1, `${prefix}counter`, 2, 60_000)) as [number, number];
    expect(first[0]).toBe(5);
    expect(second[0]).toBe(7);
    expect(second[1]).toBeGreaterThan(0);
    expect(second[1]).toBeLessThanOrEqual(60_000);
  });
});
