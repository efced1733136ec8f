import { billingPeriodOf, ratePeriod, TollgateError } from '@tollgate/core';
import type { BillingDeps } from '../deps.ts';

/**
 * Invoices for a consumer: Stripe's when the consumer is a Stripe customer, and always the local
 * preview of the current period (flat + overage rated from the exact ClickHouse total, plus the
 * units carried into the subscription's first period from the consumer's previous one, as Stripe
 * counts them).
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
    const period = billingPeriodOf(sub, now);
    const totals = await deps.usage.subscriptionTotals({
      consumerId,
      subscriptionId: sub.id,
      notBefore: sub.createdAt,
      from: period.start,
      to: now,
    });
    const firstPeriod = period.start <= sub.createdAt;
    const carried = firstPeriod
      ? await deps.prisma.meterReport.aggregate({
          where: { subscriptionId: sub.id, kind: 'carry_over' },
          _sum: { value: true },
        })
      : null;
    const carriedUnits = Number(carried?._sum.value ?? 0n);
    preview = {
      subscriptionId: sub.id,
      planId: sub.planId,
      periodStart: period.start.toISOString(),
      periodEnd: period.end.toISOString(),
      usedUnits: Number(totals.units),
      carriedUnits,
      ...ratePeriod(sub.plan, Number(totals.units) + carriedUnits),
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
