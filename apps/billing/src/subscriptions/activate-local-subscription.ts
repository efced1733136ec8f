import type { Subscription } from '@tollgate/db';
import type { BillingDeps } from '../deps.ts';
import { localSubscriptionPeriod } from './continued-period.ts';

export interface AuditActor {
  kind: string;
  id: string;
  ip?: string | null;
}

/**
 * A subscription to a plan that needs no Stripe (nothing to charge), kept here only: it replaces
 * the consumer's live free one if any and continues its period (continued-period.ts). The audit
 * row is written in the same transaction. Used by checkout (free plans) and by an admin's start.
 */
export async function activateLocalSubscription(
  deps: BillingDeps,
  consumerId: string,
  planId: string,
  replacing: string | null,
  actor: AuditActor = { kind: 'service', id: 'billing' },
): Promise<Subscription> {
  const now = deps.now();
  return deps.prisma.$transaction(async (tx) => {
    const period = await localSubscriptionPeriod(tx, consumerId, now);
    if (replacing !== null)
      await tx.subscription.update({ where: { id: replacing }, data: { status: 'canceled' } });
    const created = await tx.subscription.create({
      data: { consumerId, planId, status: 'active', ...period },
    });
    await tx.auditLog.create({
      data: {
        actorKind: actor.kind,
        actorId: actor.id,
        action: 'billing.subscription.activated_free',
        targetType: 'subscription',
        targetId: created.id,
        after: { planId, consumerId, replaced: replacing },
        ip: actor.ip ?? null,
      },
    });
    return created;
  });
}
