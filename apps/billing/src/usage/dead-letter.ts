import type { BillingDeps } from '../deps.ts';

export interface DeadLetterInfo {
  identifier: string;
  subscriptionId: string;
  windowStart: Date;
  value: bigint;
  reason: string;
}

/**
 * Usage that cannot reach Stripe is never dropped silently: the ledger row is dead_letter, and
 * the alert is a log line at error level, a metric and an audit_log row finance can query.
 */
export async function raiseDeadLetterAlert(deps: BillingDeps, info: DeadLetterInfo): Promise<void> {
  deps.metrics.inc('tollgate_billing_meter_events_dead_letter_total', {
    reason: info.reason.split(':')[0] ?? 'unknown',
  });
  deps.log.error(
    {
      alert: 'billing_usage_dead_letter',
      identifier: info.identifier,
      subscriptionId: info.subscriptionId,
      windowStart: info.windowStart.toISOString(),
      units: info.value.toString(),
      reason: info.reason,
    },
    'usage window could not be reported to Stripe: dead letter',
  );
  await deps.prisma.auditLog.create({
    data: {
      actorKind: 'system',
      actorId: 'billing',
      action: 'billing.usage.dead_letter',
      targetType: 'meter_report',
      targetId: info.identifier,
      after: {
        subscriptionId: info.subscriptionId,
        windowStart: info.windowStart.toISOString(),
        units: info.value.toString(),
        reason: info.reason,
      },
    },
  });
}
