import { ratePeriod, TollgateError } from '@tollgate/core';
import type { BillingDeps } from '../deps.ts';
import { subscriptionTotals } from '../usage/usage-source.ts';
import { earlier } from '../usage/windows.ts';

/**
 * Invoices for a consumer: Stripe's when the consumer is a Stripe customer, and always the local
 * preview of the current period (flat + overage rated from the exact ClickHouse total).
 */
export async function listInvoices(deps: BillingDeps, consumerId: string) {
  const consumer = await deps.prisma.consumer.findUnique({ where: { id: consumerId } });
  if (consumer === null) throw new TollgateError('not_found', 'CONSUMER_NOT_FOUND', 'No such consumer.');
  const sub = await deps.prisma.subscription.findFirst({
    where: { consumerId, status: { in: ['active', 'trialing', 'past_due', 'suspended'] } },
    include: { plan: true },
    orderBy: { createdAt: 'desc' },
  });
  const now = deps.now();
  let preview = null;
  if (sub !== null) {
    const totals = await subscriptionTotals(deps.clickhouse, {
      consumerId,
      subscriptionId: sub.id,
      notBefore: sub.createdAt,
      from: sub.currentPeriodStart,
      to: earlier(now, sub.currentPeriodEnd),
    });
    preview = {
      subscriptionId: sub.id,
      planId: sub.planId,
      periodStart: sub.currentPeriodStart.toISOString(),
      periodEnd: sub.currentPeriodEnd.toISOString(),
      usedUnits: Number(totals.units),
      ...ratePeriod(sub.plan, Number(totals.units)),
    };
  }
  if (consumer.stripeCustomerId === null) return { source: 'local' as const, invoices: [], preview };
  const list = await deps.stripe.invoices.list({ customer: consumer.stripeCustomerId, limit: 24 });
  return {
    source: 'stripe' as const,
    invoices: list.data.map((inv) => ({
      id: inv.id,
      number: inv.number,
      status: inv.status,
      currency: inv.currency,
      total: inv.total,
      amountDue: inv.amount_due,
      amountPaid: inv.amount_paid,
      periodStart: new Date(inv.period_start * 1000).toISOString(),
      periodEnd: new Date(inv.period_end * 1000).toISOString(),
      hostedInvoiceUrl: inv.hosted_invoice_url ?? null,
      invoicePdf: inv.invoice_pdf ?? null,
      created: new Date(inv.created * 1000).toISOString(),
    })),
    preview,
  };
}
