import { Gauge } from 'prom-client';
import type { GatewayMetrics } from '../metrics.ts';

/** A limiter that counts its Redis round trips (the leasing limiter of packages/redis). */
interface CountsRedisCalls {
  stats(): { redisCalls: number };
}

function countsRedisCalls(limiter: object): limiter is CountsRedisCalls {
  const stats = (limiter as { stats?: unknown }).stats;
  if (typeof stats !== 'function') return false;
  return typeof (stats.call(limiter) as { redisCalls?: unknown }).redisCalls === 'number';
}

/** tollgate_gateway_redis_calls, read from the limiter's own counter at scrape time, when it keeps one. */
export function registerLimiterMetrics(metrics: GatewayMetrics, limiter: object): void {
  if (!countsRedisCalls(limiter)) return;
  new Gauge({
    name: 'tollgate_gateway_redis_calls',
    help: 'Redis round trips the limiter made (since start; the bench reports them per 1,000 requests)',
    registers: [metrics.registry],
    collect() {
      this.set(limiter.stats().redisCalls);
    },
  });
}
