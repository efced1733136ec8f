import type { Logger } from 'pino';
import type { GatewayMetrics } from '../metrics.ts';
import type { Target } from '../proxy/upstream.ts';
import type { Snapshot } from './compile-snapshot.ts';
import type { RawApi, RestoreApisOutcome, RestoreApisRequest } from './types.ts';

export interface ConfigProbationOptions {
  /** Consecutive failed health checks of every health-checked target of a changed API that roll the change back. */
  failedChecks: number;
  /** Longest a change stays on probation (it is undecided only when its targets are not checked). */
  maxAgeMs: number;
  instanceId: string;
  /** The source's restoreApis. */
  restore(request: RestoreApisRequest): Promise<RestoreApisOutcome>;
  metrics: GatewayMetrics;
  logger: Logger;
  now?: () => number;
}

interface Watch {
  apiId: string;
  slug: string;
  /** The version served before the change, whose content for this API is restored. */
  goodVersion: number;
  /** The version that brought the change. */
  badVersion: number;
  /** The targets the change brought (url and health path), to notice a later change. */
  signature: string;
  startedAt: number;
  /** Health-checked target key → consecutive failed checks since the change. */
  failures: Map<string, number>;
  restoring: boolean;
}

/** Which upstreams an API uses and how they are checked: the part of a change health checks can judge. */
function targetSignature(api: RawApi | undefined): string {
  if (api === undefined) return '';
  return JSON.stringify(api.targets.map((t) => [t.url, t.healthCheckPath]).sort());
}

const checked = (targets: readonly Target[]) => targets.filter((t) => t.healthCheckPath !== null);

/**
 * The automatic rollback. When an applied snapshot changes an API's upstream targets (URL or
 * health-check path), and that API had a target passing its health checks before, the change
 * is on probation: if every health-checked target of the new configuration then fails
 * `failedChecks` consecutive checks, the API (its row, routes, targets and the entitlements to
 * it) is restored to its content in the version served before, through the source, and only
 * while it is still as the failing version left it, so several gateways do not fight. One
 * passing check ends the probation. Changes health checks cannot judge (routes, plans, hosts)
 * are never rolled back automatically.
 */
export class ConfigProbation {
  private readonly lastResult = new Map<string, boolean>();
  private readonly watches = new Map<string, Watch>();
  private readonly now: () => number;

  constructor(private readonly opts: ConfigProbationOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** ControlPlane's onApplied: starts, keeps or ends probations. */
  onApplied(previous: Snapshot | null, next: Snapshot): void {
    const now = this.now();
    for (const [apiId, watch] of this.watches) {
      const changedAgain = targetSignature(next.accepted.apis.get(apiId)) !== watch.signature;
      if (changedAgain || now - watch.startedAt > this.opts.maxAgeMs) this.watches.delete(apiId);
    }
    this.startProbations(previous, next, now);
    // Results of targets no snapshot uses any more are of no use (after the check above used them).
    for (const key of this.lastResult.keys()) if (!next.targetKeys.has(key)) this.lastResult.delete(key);
  }

  private startProbations(previous: Snapshot | null, next: Snapshot, now: number): void {
    if (previous === null || previous.version === null || next.version === null) return;
    if (next.version === previous.version) return;
    const quarantined = new Set(
      [...previous.quarantine, ...next.quarantine].filter((q) => q.kind === 'api').map((q) => q.id),
    );
    for (const [apiId, api] of next.apis) {
      const before = previous.accepted.apis.get(apiId);
      const signature = targetSignature(next.accepted.apis.get(apiId));
      if (before === undefined || quarantined.has(apiId) || targetSignature(before) === signature) continue;
      if (this.watches.get(apiId)?.signature === signature) continue;
      const healthyBefore = checked(previous.apis.get(apiId)?.upstream.targets ?? []).some(
        (t) => this.lastResult.get(t.key) === true,
      );
      const after = checked(api.upstream.targets);
      if (!healthyBefore || after.length === 0) continue;
      this.watches.set(apiId, {
        apiId,
        slug: api.slug,
        goodVersion: previous.version,
        badVersion: next.version,
        signature,
        startedAt: now,
        failures: new Map(after.map((t) => [t.key, 0])),
        restoring: false,
      });
      this.opts.logger.info(
        { api: api.slug, version: next.version, previousVersion: previous.version },
        'upstream change on probation: rolled back if its health checks fail',
      );
    }
  }

  /** The health checker's onResult. */
  onHealthResult(target: Target, healthy: boolean): void {
    this.lastResult.set(target.key, healthy);
    for (const watch of this.watches.values()) {
      const failures = watch.failures.get(target.key);
      if (failures === undefined || watch.restoring) continue;
      if (healthy) {
        this.watches.delete(watch.apiId);
        this.opts.logger.info(
          { api: watch.slug, version: watch.badVersion },
          'upstream change passed its health checks',
        );
        continue;
      }
      watch.failures.set(target.key, failures + 1);
      if ([...watch.failures.values()].every((n) => n >= this.opts.failedChecks)) this.rollBack(watch);
    }
  }

  /** APIs on probation now (for /readyz and tests). */
  pending(): { api: string; version: number; restoring: boolean }[] {
    return [...this.watches.values()].map((w) => ({
      api: w.slug,
      version: w.badVersion,
      restoring: w.restoring,
    }));
  }

  private rollBack(watch: Watch): void {
    watch.restoring = true;
    const { logger, metrics } = this.opts;
    const reason = {
      api: watch.slug,
      failedVersion: watch.badVersion,
      failedChecks: this.opts.failedChecks,
      targets: [...watch.failures.keys()],
    };
    logger.warn(
      { ...reason, restoring: watch.goodVersion },
      'upstream change failed its health checks: rolling the API back',
    );
    this.opts
      .restore({
        version: watch.goodVersion,
        apiIds: [watch.apiId],
        ifUnchangedSince: watch.badVersion,
        actorId: this.opts.instanceId,
        reason,
      })
      .then(
        (outcome) => {
          metrics.configRollbacks.inc({ result: outcome });
          logger.warn(
            { api: watch.slug, outcome, version: watch.goodVersion },
            'automatic rollback finished',
          );
          this.watches.delete(watch.apiId);
        },
        (err: unknown) => {
          // Postgres unreachable, say: the next failed check tries again.
          metrics.configRollbacks.inc({ result: 'failed' });
          logger.error(
            { err, api: watch.slug },
            'automatic rollback failed; retrying on the next failed check',
          );
          watch.restoring = false;
        },
      );
  }
}
