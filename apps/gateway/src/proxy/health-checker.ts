import { UPSTREAM_FORBIDDEN } from './guarded-connect.ts';
import type { Target, TargetRegistry } from './upstream.ts';

export interface HealthCheckerOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Every check's result (the automatic rollback's probation listens). */
  onResult?: (target: Target, healthy: boolean) => void;
}

/**
 * Active health checks: every interval, GET health_check_path on each target that sets one;
 * 2xx/3xx marks it up, anything else (or no answer within the timeout) marks it down. Targets
 * without a path rely on passive health and the circuit breaker. A target the egress policy
 * refuses is left as it is (never probed, counted by the policy's metric): its requests then
 * get 502 UPSTREAM_FORBIDDEN, which says why, rather than 503 NO_HEALTHY_UPSTREAM.
 */
export class HealthChecker {
  private timer: NodeJS.Timeout | null = null;
  private readonly running = new Set<string>();

  constructor(
    private readonly registry: TargetRegistry,
    private readonly opts: HealthCheckerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs);
    this.timer.unref();
  }

  async runOnce(): Promise<void> {
    const checks: Promise<void>[] = [];
    for (const target of this.registry.all()) {
      const path = target.healthCheckPath;
      if (path === null || this.running.has(target.key)) continue;
      this.running.add(target.key);
      checks.push(
        target.pool
          .request({
            path: target.basePath + path,
            method: 'GET',
            headersTimeout: this.opts.timeoutMs,
            bodyTimeout: this.opts.timeoutMs,
            headers: { 'user-agent': 'tollgate-gateway-health' },
          })
          .then(
            async (res) => {
              await res.body.dump();
              const healthy = res.statusCode >= 200 && res.statusCode < 400;
              target.setHealthy(healthy);
              this.opts.onResult?.(target, healthy);
            },
            (err: { code?: string }) => {
              if (err.code === UPSTREAM_FORBIDDEN) return;
              target.setHealthy(false);
              this.opts.onResult?.(target, false);
            },
          )
          .finally(() => this.running.delete(target.key)),
      );
    }
    await Promise.all(checks);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }
}
