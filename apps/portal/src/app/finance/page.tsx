import type { Metadata } from 'next';
import { BarList } from '../../components/charts.tsx';
import { date, money, n } from '../../components/format.ts';
import { JsonTable, rowsOf } from '../../components/json-table.tsx';
import { Card, Empty, Notice, PageHeader } from '../../components/ui.tsx';
import { requirePageUser } from '../../server/auth/require-user.ts';
import { periodFromParams, revenueByPlan } from '../../server/queries/finance.ts';
import { metering } from '../../server/services/metering.ts';

export const metadata: Metadata = { title: 'Finance' };

export default async function FinancePage({
  searchParams,
}: {
  searchParams: Promise<{ from?: string; to?: string }>;
}) {
  await requirePageUser(['finance', 'admin']);
  const sp = await searchParams;
  const { from, to } = periodFromParams(sp.from, sp.to);
  const [report, revenue] = await Promise.all([metering.financeJson(from, to), revenueByPlan(from, to)]);
  const qs = `from=${date(from)}&to=${date(to)}`;
  return (
    <>
      <PageHeader
        title="Finance"
        description={`Usage and revenue for ${date(from)} → ${date(to)} (end exclusive, UTC).`}
      />
      <div className="stack">
        <Card>
          <form className="toolbar" action="/finance">
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
            <a
              className="btn btn-primary"
              href={`/finance/usage.csv?${qs}`}
              download
              data-testid="csv-download"
            >
              Download CSV
            </a>
          </form>
          <p className="hint">
            The CSV comes straight from the metering service's finance report for this period.
          </p>
        </Card>
        <Card title="Usage report">
          {report.ok ? (
            <JsonTable rows={rowsOf(report.data)} caption="Usage per consumer" testId="usage-report" />
          ) : (
            <Notice tone="warn">
              <span data-testid="metering-error">{report.error}</span>
            </Notice>
          )}
        </Card>
        <div className="grid grid-2">
          <Card title="Revenue by plan">
            {revenue.error && <Notice tone="warn">{revenue.error} Overage is shown as zero.</Notice>}
            {revenue.rows.length === 0 ? (
              <Empty title="No subscriptions in this period" />
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Plan</th>
                      <th className="num">Subscribers</th>
                      <th className="num">Units</th>
                      <th className="num">Flat</th>
                      <th className="num">Overage</th>
                      <th className="num">Total</th>
                    </tr>
                  </thead>
                  <tbody>
                    {revenue.rows.map((r) => (
                      <tr key={r.planId}>
                        <td>{r.planName}</td>
                        <td className="num">{n(r.subscribers)}</td>
                        <td className="num">{n(r.units)}</td>
                        <td className="num">{money(r.flatCents, r.currency)}</td>
                        <td className="num">{money(r.overageCents, r.currency)}</td>
                        <td className="num">{money(r.totalCents, r.currency)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>
          <Card>
            <BarList
              title="Revenue share (USD)"
              unit=""
              format={(v) => money(Math.round(v * 100))}
              data={revenue.rows.map((r) => ({ label: r.planName, value: Number(r.totalCents) / 100 }))}
            />
          </Card>
        </div>
      </div>
    </>
  );
}
