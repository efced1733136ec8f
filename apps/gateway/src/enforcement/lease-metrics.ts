import type { LeasingLimiter } from '@tollgate/core';
import { Gauge } from 'prom-client';
import type { GatewayMetrics } from '../metrics.ts';

/** The leasing limiter's counters, read from its stats at scrape time. */
export function registerLeaseMetrics(metrics: GatewayMetrics, limiter: LeasingLimiter): void {
  const gauge = (name: string, help: string, read: (s: ReturnType<LeasingLimiter['stats']>) => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        this.set(read(limiter.stats()));
      },
    });
  gauge(
    'tollgate_gateway_redis_calls',
    'Redis round trips the limiter made (since start; the bench reports them per 1,000 requests)',
    (s) => s.storeCalls,
  );
  gauge(
    'tollgate_gateway_quota_lease_units_held',
    'Quota units leased and not used yet, over every consumer',
    (s) => s.unitsHeld,
  );
  gauge(
    'tollgate_gateway_limiter_local_decisions',
    'Limit checks decided from leased units, without Redis',
    (s) => s.localDecisions,
  );
  gauge('tollgate_gateway_limiter_store_decisions', 'Limit checks decided by Redis', (s) => s.storeDecisions);
  gauge(
    'tollgate_gateway_quota_reclaim_waits',
    'Checks told to wait while other gateways hand units back',
    (s) => s.reclaimWaits,
  );
  gauge(
    'tollgate_gateway_quota_reclaim_timeouts',
    'Checks refused after waiting the whole reclaim wait',
    (s) => s.reclaimTimeouts,
  );
  gauge(
    'tollgate_gateway_quota_leases_expired',
    'Leases Redis had expired when this gateway next called on them',
    (s) => s.expiredLeases,
  );
}
