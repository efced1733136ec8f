import type { Metadata } from 'next';
import { date, dateTime, n } from '../../../components/format.ts';
import { JsonTable, rowsOf } from '../../../components/json-table.tsx';
import { Badge, Card, Empty, Notice, PageHeader, Stat } from '../../../components/ui.tsx';
import { requirePageUser } from '../../../server/auth/require-user.ts';
import { deps } from '../../../server/deps.ts';
import { periodFromParams } from '../../../server/queries/finance.ts';
import { billing } from '../../../server/services/billing.ts';

export const metadata: Metadata = { title: 'Reconciliation' };

/** One subscription's counts from billing's reconciliation report. */
interface Row {
  subscriptionId: string;
  consumerId: string;
  planId: string;
  status: string;
  gateway: { admittedRequests: number; admittedUnits: number };
  clickhouse: { requests: number; units: number; unitsThroughWatermark: number };
  stripe: {
    sentUnits: number;
    pendingUnits: number;
    deadLetterUnits: number;
    reportedThrough: string | null;
  };
  drift: { flagged: boolean; reasons: string[] };
}

function isRow(v: unknown): v is Row {
  const r = v as Row;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.consumerId === 'string' &&
    typeof r.gateway === 'object' &&
    typeof r.clickhouse === 'object' &&
    typeof r.stripe === 'object' &&
    typeof r.drift === 'object'
  );
}

export default async function ReconciliationPage({
  searchParams,
}: {
  searchParams: Promise<{ from?: string; to?: string }>;
}) {
  await requirePageUser(['finance', 'admin']);
  const sp = await searchParams;
  const { from, to } = periodFromParams(sp.from, sp.to);
  const res = await billing.reconciliation(from, to);
  const raw = res.ok ? rowsOf(res.data) : [];
  const rows: Row[] = [];
  for (const r of raw as unknown[]) if (isRow(r)) rows.push(r);
  const [consumers, plans] = await Promise.all([
    deps().prisma.consumer.findMany({
      where: { id: { in: rows.map((r) => r.consumerId) } },
      select: { id: true, name: true },
    }),
    deps().prisma.plan.findMany({ select: { id: true, name: true } }),
  ]);
  const consumerName = new Map(consumers.map((c) => [c.id, c.name]));
  const planName = new Map(plans.map((p) => [p.id, p.name]));
  const flagged = rows.filter((r) => r.drift.flagged).length;
  return (
    <>
      <PageHeader
        title="Reconciliation"
        description="Billable units the gateway admitted, the deduplicated ClickHouse total, and what was reported to Stripe, per subscription."
      />
      <div className="stack">
        <Card>
          <form className="toolbar" action="/finance/reconciliation">
            <div className="field">
              <label htmlFor="from">From</label>
              <input id="from" name="from" type="date" defaultValue={date(from)} />
            </div>
            <div className="field">
              <label htmlFor="to">To</label>
              <input id="to" name="to" type="date" defaultValue={date(to)} />
            </div>
            <button type="submit" className="btn btn-secondary">
              Show period
            </button>
          </form>
        </Card>
        {!res.ok ? (
          <Notice tone="warn">{res.error}</Notice>
        ) : (
          <>
            <div className="grid grid-3">
              <Card>
                <Stat label="Subscriptions checked" value={n(rows.length)} />
              </Card>
              <Card>
                <Stat
                  label="With drift"
                  value={<span style={{ color: flagged ? 'var(--bad)' : undefined }}>{n(flagged)}</span>}
                  hint={flagged ? 'See the reasons below' : 'Gateway, ClickHouse and Stripe agree'}
                />
              </Card>
              <Card>
                <Stat
                  label="Units reported to Stripe"
                  value={n(rows.reduce((s, r) => s + r.stripe.sentUnits, 0))}
                  hint={`${n(rows.reduce((s, r) => s + r.stripe.pendingUnits, 0))} pending`}
                />
              </Card>
            </div>
            <Card title="By subscription">
              {rows.length === 0 && raw.length > 0 ? (
                <JsonTable rows={raw} caption="Reconciliation rows" />
              ) : rows.length === 0 ? (
                <Empty title="No subscriptions in this period" />
              ) : (
                <div className="table-wrap">
                  <table>
                    <caption className="sr-only">Units per subscription from each source</caption>
                    <thead>
                      <tr>
                        <th scope="col">Consumer</th>
                        <th scope="col">Plan</th>
                        <th scope="col" className="num">
                          Gateway admitted
                        </th>
                        <th scope="col" className="num">
                          ClickHouse
                        </th>
                        <th scope="col" className="num">
                          Stripe sent
                        </th>
                        <th scope="col" className="num">
                          Pending / dead
                        </th>
                        <th scope="col">Reported through</th>
                        <th scope="col">Drift</th>
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((r) => (
                        <tr key={r.subscriptionId}>
                          <td>{consumerName.get(r.consumerId) ?? r.consumerId.slice(0, 8)}</td>
                          <td>
                            {planName.get(r.planId) ?? '—'} <span className="muted">({r.status})</span>
                          </td>
                          <td className="num">{n(r.gateway.admittedUnits)}</td>
                          <td className="num">{n(r.clickhouse.units)}</td>
                          <td className="num">{n(r.stripe.sentUnits)}</td>
                          <td className="num">
                            {n(r.stripe.pendingUnits)} / {n(r.stripe.deadLetterUnits)}
                          </td>
                          <td>{dateTime(r.stripe.reportedThrough)}</td>
                          <td>
                            {r.drift.flagged ? (
                              <>
                                <Badge tone="bad">drift</Badge>
                                {r.drift.reasons.length > 0 && (
                                  <div className="hint">{r.drift.reasons.join('; ')}</div>
                                )}
                              </>
                            ) : (
                              <Badge tone="good">ok</Badge>
                            )}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </Card>
          </>
        )}
      </div>
    </>
  );
}
