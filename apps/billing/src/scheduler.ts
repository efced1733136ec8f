import { meterEventsPerSecond } from './config.ts';
import type { BillingDeps } from './deps.ts';
import { suspendAfterGrace } from './subscriptions/suspend-after-grace.ts';
import { KeyedSerializer, TokenBucket } from './usage/rate-limiter.ts';
import { reportUsage } from './usage/report-usage.ts';
import { type SenderState, sendMeterReports } from './usage/send-meter-reports.ts';

/**
 * The two periodic jobs: usage reporting (ledger, then delivery) every
 * BILLING_REPORT_INTERVAL_SECONDS, and grace-period suspension every
 * BILLING_GRACE_CHECK_INTERVAL_SECONDS. A job never overlaps itself; stop() waits for the
 * running one. Run one billing instance with the scheduler on (the ledger's primary key and
 * Stripe's identifier dedup make a second one harmless, but wasteful).
 */
export interface Scheduler {
  stop(): Promise<void>;
  /** Runs the usage job once now (tests, ops). */
  runUsageOnce(): Promise<void>;
}

export function createSenderState(deps: BillingDeps): SenderState {
  return { bucket: new TokenBucket(meterEventsPerSecond(deps.config)), serializer: new KeyedSerializer() };
}

export async function runUsageJob(deps: BillingDeps, sender: SenderState): Promise<void> {
  const planned = await reportUsage(deps);
  const sent = await sendMeterReports(deps, sender);
  if (planned.created.length > 0 || sent.sent + sent.duplicates + sent.deadLettered > 0)
    deps.log.info({ planned: planned.created.length, ...sent }, 'usage reported to Stripe');
}

export function startScheduler(deps: BillingDeps): Scheduler {
  const sender = createSenderState(deps);
  // The timer and POST /v1/usage/report share one run: never two usage jobs at once.
  let usageRun: Promise<void> | null = null;
  const runUsage = (): Promise<void> => {
    if (usageRun !== null) return usageRun.catch(() => undefined).then(runUsage);
    usageRun = runUsageJob(deps, sender).finally(() => {
      usageRun = null;
    });
    return usageRun;
  };
  let stopped = false;
  const running = new Set<Promise<void>>();

  const loop = (name: string, everyMs: number, job: () => Promise<unknown>) => {
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      if (stopped) return;
      const p = job()
        .then(() => undefined)
        .catch((err: unknown) => deps.log.error({ err, job: name }, 'billing job failed'));
      running.add(p);
      await p;
      running.delete(p);
      if (!stopped) timer = setTimeout(tick, everyMs);
    };
    timer = setTimeout(tick, Math.min(everyMs, 1000));
    return () => clearTimeout(timer);
  };

  const cancels = [
    loop('usage', deps.config.BILLING_REPORT_INTERVAL_SECONDS * 1000, runUsage),
    loop('grace', deps.config.BILLING_GRACE_CHECK_INTERVAL_SECONDS * 1000, () => suspendAfterGrace(deps)),
  ];
  return {
    async stop() {
      stopped = true;
      for (const c of cancels) c();
      await Promise.all(running);
    },
    runUsageOnce: runUsage,
  };
}
