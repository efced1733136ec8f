import type { Metadata } from 'next';
import Link from 'next/link';
import { ActionForm } from '../../components/action-form.tsx';
import { dateTime, money } from '../../components/format.ts';
import { PlanChange } from '../../components/plan-change.tsx';
import { isFreePlan, PlanFeatures, planPrice } from '../../components/plan-features.tsx';
import { Badge, Card, Empty, Notice, PageHeader } from '../../components/ui.tsx';
import { ownConsumerId, requirePageUser } from '../../server/auth/require-user.ts';
import { currentPeriod, currentSubscription, publicPlans } from '../../server/queries/developer.ts';
import { billing } from '../../server/services/billing.ts';
import { changePlanAction, openBillingPortalAction, previewPlanChangeAction } from '../actions/developer.ts';

export const metadata: Metadata = { title: 'Billing' };

type Row = Record<string, unknown>;
const s = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

export default async function BillingPage({
  searchParams,
}: {
  searchParams: Promise<{ checkout?: string }>;
}) {
  const { checkout } = await searchParams;
  const actor = await requirePageUser(['developer']);
  const consumerId = ownConsumerId(actor);
  const [sub, plans, invoices] = await Promise.all([
    currentSubscription(consumerId),
    publicPlans(),
    billing.invoices(consumerId),
  ]);
  const period = currentPeriod(sub);
  const rows: Row[] = invoices.ok
    ? Array.isArray(invoices.data)
      ? invoices.data
      : (invoices.data.invoices ?? [])
    : [];
  return (
    <>
      <PageHeader
        title="Billing"
        description="Your plan, plan changes and invoices."
        actions={
          sub && !isFreePlan(sub.plan) ? (
            <ActionForm
              action={openBillingPortalAction}
              submitLabel="Payment methods"
              variant="secondary"
              pendingLabel="Opening…"
              inline
            />
          ) : undefined
        }
      />
      <div className="stack">
        {checkout === 'success' && (
          <Notice tone="success">Checkout complete. Your plan is being activated.</Notice>
        )}
        <div className="grid grid-2">
          <Card title="Current plan">
            {sub ? (
              <div className="stack">
                <p style={{ margin: 0 }}>
                  <strong style={{ fontSize: '1.2rem' }}>{sub.plan.name}</strong> ·{' '}
                  {sub.plan.priceCents === 0 ? 'no charge' : `${planPrice(sub.plan)} per period`}{' '}
                  <Badge tone={sub.status === 'active' || sub.status === 'trialing' ? 'good' : 'warn'}>
                    {sub.status}
                  </Badge>
                </p>
                <PlanFeatures plan={sub.plan} />
                <p className="muted" style={{ margin: 0 }}>
                  Period {dateTime(period.from)} → {dateTime(period.to)}
                </p>
              </div>
            ) : (
              <Empty title="No plan yet">
                <Link href="/pricing">Choose a plan</Link> to start.
              </Empty>
            )}
          </Card>
          <Card title="Change plan">
            {sub && isFreePlan(sub.plan) ? (
              <p className="muted">
                You are on a free plan. <Link href="/pricing">Choose a paid plan</Link> to upgrade: checkout
                takes a minute.
              </p>
            ) : sub ? (
              <PlanChange
                plans={plans.map((p) => ({ id: p.id, name: p.name, price: planPrice(p) }))}
                currentPlanId={sub.planId}
                preview={previewPlanChangeAction}
                change={changePlanAction}
              />
            ) : (
              <p className="muted">Subscribe first on the pricing page.</p>
            )}
          </Card>
        </div>
        <Card title="Invoices">
          {!invoices.ok ? (
            <Notice tone="warn">{invoices.error}</Notice>
          ) : rows.length === 0 ? (
            <Empty title="No invoices yet" />
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>Invoice</th>
                    <th>Period</th>
                    <th>Status</th>
                    <th className="num">Amount</th>
                    <th>
                      <span className="sr-only">Link</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((inv, i) => {
                    const amount = inv.amountDueCents ?? inv.totalCents ?? inv.amount_due ?? inv.total;
                    const link = s(inv.hostedInvoiceUrl ?? inv.hosted_invoice_url);
                    return (
                      <tr key={s(inv.id) || i}>
                        <td>{s(inv.number) || s(inv.id) || 'preview'}</td>
                        <td>
                          {dateTime(s(inv.periodStart ?? inv.period_start))} →{' '}
                          {dateTime(s(inv.periodEnd ?? inv.period_end))}
                        </td>
                        <td>{s(inv.status) || '—'}</td>
                        <td className="num">
                          {typeof amount === 'number' ? money(amount, s(inv.currency) || 'usd') : '—'}
                        </td>
                        <td>{/^https?:\/\//.test(link) ? <a href={link}>View</a> : null}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </div>
    </>
  );
}
