// Child process for the quota exactness test: fires N concurrent checks from its own connection
// and prints {admitted, remaining[]} (remaining of admitted decisions, in the order Redis ran them).
import { createRedis, waitForRedis } from '../client.ts';
import { RedisLimiter } from '../redis-limiter.ts';

const [url, keyPrefix, subject, nowArg, limitArg, countArg] = process.argv.slice(2);
if (url === undefined || keyPrefix === undefined || subject === undefined) throw new Error('usage');
const now = Number(nowArg);
const redis = createRedis({ url, commandTimeoutMs: 10_000 });
await waitForRedis(redis);
const limiter = new RedisLimiter({ redis, keyPrefix, timeoutMs: 10_000 });
const quota = { limit: Number(limitArg), periodStart: now, periodEnd: now + 3_600_000 };
const remaining: number[] = [];
let admitted = 0;
await Promise.all(
  Array.from({ length: Number(countArg) }, () =>
    limiter.check({ subject, cost: 1, now, quota, rate: null }).then((d) => {
      if (d.allowed) {
        admitted += 1;
        remaining.push(d.quotaRemaining ?? -1);
      }
    }),
  ),
);
process.stdout.write(JSON.stringify({ admitted, remaining }));
redis.disconnect();
