import type { BillingDeps } from '../deps.ts';
import { SUSPENDED_FOR_PAYMENT } from '../webhooks/handle-stripe-event.ts';

/**
 * The grace-period job: every past_due subscription whose grace has ended is suspended, and so
 * is its consumer (consumers.status = suspended). The gateway follows consumers through its
 * control-plane NOTIFY and answers 403 within seconds. invoice.paid reinstates both.
 */
export async function suspendAfterGrace(deps: BillingDeps): Promise<string[]> {
  const now = deps.now();
  const due = await deps.prisma.subscription.findMany({
    where: { status: 'past_due', graceUntil: { lte: now } },
  });
  const suspended: string[] = [];
  for (const sub of due) {
    await deps.prisma.$transaction(async (tx) => {
      const fresh = await tx.subscription.updateMany({
        where: { id: sub.id, status: 'past_due', graceUntil: { lte: now } },
        data: { status: 'suspended' },
      });
      if (fresh.count === 0) return;
      const consumer = await tx.consumer.findUnique({ where: { id: sub.consumerId } });
      if (consumer !== null && consumer.status === 'active') {
        await tx.consumer.update({
          where: { id: sub.consumerId },
          data: { status: 'suspended', suspendedReason: SUSPENDED_FOR_PAYMENT },
        });
      }
      await tx.auditLog.create({
        data: {
          actorKind: 'system',
          actorId: 'billing',
          action: 'billing.consumer.suspended',
          targetType: 'consumer',
          targetId: sub.consumerId,
          before: { status: consumer?.status ?? null, subscription: sub.id },
          after: {
            status: 'suspended',
            reason: SUSPENDED_FOR_PAYMENT,
            graceUntil: sub.graceUntil?.toISOString() ?? null,
          },
        },
      });
      suspended.push(sub.consumerId);
    });
  }
  if (suspended.length > 0) {
    deps.metrics.inc('tollgate_billing_suspensions_total', {}, suspended.length);
    deps.log.warn({ consumers: suspended }, 'consumers suspended after the payment grace period');
  }
  return suspended;
}
