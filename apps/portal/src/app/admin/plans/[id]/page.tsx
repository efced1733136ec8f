import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { date, money, n } from '../../../../components/format.ts';
import { PlanForm } from '../../../../components/plan-form.tsx';
import { Card, Empty, Notice, PageHeader } from '../../../../components/ui.tsx';
import { requirePageUser } from '../../../../server/auth/require-user.ts';
import { deps } from '../../../../server/deps.ts';
import { previewPlanBilling } from '../../../../server/queries/plan-preview.ts';

export const metadata: Metadata = { title: 'Edit plan' };

export default async function EditPlan({ params }: { params: Promise<{ id: string }> }) {
  await requirePageUser(['admin']);
  const { id } = await params;
  if (!/^[0-9a-f-]{36}$/i.test(id)) notFound();
  const prisma = deps().prisma;
  const [plan, apis] = await Promise.all([
    prisma.plan.findUnique({ where: { id }, include: { entitlements: true } }),
    prisma.api.findMany({ select: { id: true, name: true }, orderBy: { name: 'asc' } }),
  ]);
  if (!plan) notFound();
  const preview = await previewPlanBilling(plan);
  return (
    <>
      <PageHeader
        title={`Plan: ${plan.name}`}
        description="Edit the plan. Every save is recorded in the audit log."
      />
      <div className="stack">
        <Card>
          <PlanForm plan={plan} apis={apis} entitledApiIds={plan.entitlements.map((e) => e.apiId)} />
        </Card>
        <Card
          title={`What this plan would have billed last period (${date(preview.from)} → ${date(preview.to)})`}
        >
          <p className="muted" style={{ marginTop: 0, fontSize: 14 }}>
            From each subscribed consumer's real usage, priced with this plan as saved above.
          </p>
          {preview.error && <Notice tone="warn">{preview.error}</Notice>}
          {preview.rows.length === 0 ? (
            !preview.error && <Empty title="No subscribed consumers to compare" />
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>Consumer</th>
                    <th>Current plan</th>
                    <th className="num">Units used</th>
                    <th className="num">Billed on current plan</th>
                    <th className="num">Would bill on {plan.name}</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.rows.map((r) => (
                    <tr key={r.consumerId}>
                      <td>{r.consumerName}</td>
                      <td>{r.currentPlan}</td>
                      <td className="num">{n(r.units)}</td>
                      <td className="num">
                        {r.currentCents === null ? '—' : money(r.currentCents, r.currency)}
                      </td>
                      <td className="num">{money(r.wouldCents, r.currency)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </div>
    </>
  );
}
