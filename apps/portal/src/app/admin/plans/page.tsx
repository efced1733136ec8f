import type { Metadata } from 'next';
import Link from 'next/link';
import { n } from '../../../components/format.ts';
import { planPrice } from '../../../components/plan-features.tsx';
import { Badge, Card, Empty, PageHeader } from '../../../components/ui.tsx';
import { requirePageUser } from '../../../server/auth/require-user.ts';
import { deps } from '../../../server/deps.ts';

export const metadata: Metadata = { title: 'Plans' };

export default async function AdminPlans() {
  await requirePageUser(['admin']);
  const plans = await deps().prisma.plan.findMany({
    orderBy: [{ visibility: 'asc' }, { priceCents: 'asc' }],
    include: { _count: { select: { subscriptions: { where: { status: { not: 'canceled' } } } } } },
  });
  return (
    <>
      <PageHeader
        title="Plans"
        description="Quotas, limits and prices. Changes apply to the gateway within seconds."
        actions={
          <Link className="btn btn-primary" href="/admin/plans/new">
            New plan
          </Link>
        }
      />
      <Card>
        {plans.length === 0 ? (
          <Empty title="No plans yet" />
        ) : (
          <div className="table-wrap">
            <table data-testid="plans-table">
              <thead>
                <tr>
                  <th>Plan</th>
                  <th>Visibility</th>
                  <th className="num">Quota</th>
                  <th>Cap</th>
                  <th className="num">Rate / burst</th>
                  <th className="num">Price</th>
                  <th className="num">Subscribers</th>
                </tr>
              </thead>
              <tbody>
                {plans.map((p) => (
                  <tr key={p.id}>
                    <td>
                      <Link href={`/admin/plans/${p.id}`}>{p.name}</Link>{' '}
                      <code className="muted">{p.slug}</code>
                    </td>
                    <td>
                      <Badge tone={p.visibility === 'public' ? 'good' : 'neutral'}>{p.visibility}</Badge>
                    </td>
                    <td className="num">
                      {p.quota === null ? 'unlimited' : `${n(p.quota)} / ${p.quotaPeriod}`}
                    </td>
                    <td>{p.capMode}</td>
                    <td className="num">
                      {p.rateLimitPerSecond === null ? '—' : `${p.rateLimitPerSecond}/s · ${p.burst}`}
                    </td>
                    <td className="num">{planPrice(p)}</td>
                    <td className="num">{n(p._count.subscriptions)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}
