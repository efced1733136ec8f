import { priceForPeriod } from '@tollgate/core';
import type { Metadata } from 'next';
import Link from 'next/link';
import { ActionForm } from '../../components/action-form.tsx';
import { BarList, ColumnChart, type Datum, Gauge } from '../../components/charts.tsx';
import { date, dateTime, money, n } from '../../components/format.ts';
import { Card, Empty, Notice, PageHeader, Stat } from '../../components/ui.tsx';
import { ownConsumerId, requirePageUser } from '../../server/auth/require-user.ts';
import { deps } from '../../server/deps.ts';
import { consumerById, currentPeriod, currentSubscription } from '../../server/queries/developer.ts';
import { type AlertRow, metering, type UsagePoint } from '../../server/services/metering.ts';
import { updateAlertWebhookAction } from '../actions/developer.ts';

export const metadata: Metadata = { title: 'Usage' };

function sumBy(points: UsagePoint[], key: (p: UsagePoint) => string): Datum[] {
  const map = new Map<string, number>();
  for (const p of points) map.set(key(p), (map.get(key(p)) ?? 0) + p.requests);
  return [...map.entries()].map(([label, value]) => ({ label, value }));
}

function dailySeries(points: UsagePoint[], from: Date, to: Date): Datum[] {
  const byDay = new Map<string, number>();
  for (const p of points)
    byDay.set(p.bucket.slice(0, 10), (byDay.get(p.bucket.slice(0, 10)) ?? 0) + p.requests);
  const out: Datum[] = [];
  const end = Math.min(to.getTime(), Date.now() + 86_400_000);
  for (
    let t = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
    t < end;
    t += 86_400_000
  ) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push({ label: day.slice(5), value: byDay.get(day) ?? 0 });
    if (out.length > 62) break;
  }
  return out;
}

function Unavailable({ title }: { title: string }) {
  return (
    <p className="unavailable">
      <strong>{title}</strong>
      Waiting for the metering service.
    </p>
  );
}

export default async function UsagePage() {
  const actor = await requirePageUser(['developer']);
  const consumerId = ownConsumerId(actor);
  const [sub, consumer] = await Promise.all([currentSubscription(consumerId), consumerById(consumerId)]);
  const { from, to } = currentPeriod(sub);
  const now = new Date();
  const until = now < to ? now : to;
  const [quota, daily, byRoute, byStatus, alerts, routes] = await Promise.all([
    sub ? metering.quota(consumerId) : Promise.resolve(null),
    metering.timeseries(consumerId, from, until, 'day'),
    metering.timeseries(consumerId, from, until, 'month', 'route'),
    metering.timeseries(consumerId, from, until, 'month', 'status'),
    metering.alerts(consumerId),
    deps().prisma.route.findMany({
      select: { id: true, name: true, path: true, api: { select: { basePath: true } } },
    }),
  ]);
  const routeName = new Map(routes.map((r) => [r.id, `${r.api.basePath}${r.path === '/' ? '' : r.path}`]));
  const down = [quota, daily, byRoute, byStatus].find((r) => r !== null && !r.ok);
  const used = quota?.ok ? quota.data.used : null;
  const charge = sub && used !== null ? priceForPeriod(sub.plan, Math.max(0, Math.floor(used))) : null;
  const alertRows: AlertRow[] = alerts.ok
    ? Array.isArray(alerts.data)
      ? alerts.data
      : (alerts.data.alerts ?? [])
    : [];
  return (
    <>
      <PageHeader title="Usage" description={`Current period: ${date(from)} → ${date(to)}`} />
      <div className="stack">
        {down && !down.ok && (
          <Notice tone="warn">{down.error} Usage figures are unavailable until it is back.</Notice>
        )}
        {!sub && (
          <Notice tone="info">
            You have no plan yet, so there is no quota. <Link href="/pricing">Pick a plan</Link> to start
            calling APIs.
          </Notice>
        )}
        <div className="grid grid-3">
          <Card title="Quota">
            {quota?.ok ? (
              <Gauge
                percent={quota.data.percent}
                label={`${n(quota.data.used)} of ${quota.data.quota === null ? 'unlimited' : n(quota.data.quota)} units`}
                sublabel={`Resets ${dateTime(quota.data.periodEnd)}`}
              />
            ) : (
              <p className="muted">{sub ? 'Quota unavailable.' : 'No plan, no quota.'}</p>
            )}
          </Card>
          <Card title="Charges so far">
            {charge ? (
              <Stat
                label={`${sub?.plan.name} plan`}
                value={<span data-testid="period-charge">{money(charge.totalCents, charge.currency)}</span>}
                hint={`${money(charge.flatCents, charge.currency)} flat${charge.overageUnits > 0 ? ` + ${n(charge.overageUnits)} overage units = ${money(charge.overageCents, charge.currency)}` : ', no overage'}`}
              />
            ) : (
              <p className="muted">{sub ? 'Waiting for usage data.' : 'No plan: nothing is billed.'}</p>
            )}
          </Card>
          <Card title="Requests this period">
            <Stat
              label="Total requests"
              value={
                <span data-testid="usage-requests">
                  {daily.ok ? n(daily.data.points.reduce((s, p) => s + p.requests, 0)) : '—'}
                </span>
              }
              hint={daily.ok ? `${n(daily.data.points.reduce((s, p) => s + p.errors, 0))} errors` : undefined}
            />
          </Card>
        </div>
        <Card>
          {daily.ok ? (
            <ColumnChart title="Requests per day" data={dailySeries(daily.data.points, from, until)} />
          ) : (
            <Unavailable title="Requests per day" />
          )}
        </Card>
        <div className="grid grid-2">
          <Card>
            {byRoute.ok ? (
              <BarList
                title="By route"
                data={sumBy(byRoute.data.points, (p) => routeName.get(p.group) ?? p.group).sort(
                  (a, b) => b.value - a.value,
                )}
              />
            ) : (
              <Unavailable title="By route" />
            )}
          </Card>
          <Card>
            {byStatus.ok ? (
              <BarList
                title="By status"
                data={sumBy(byStatus.data.points, (p) => p.group).sort((a, b) =>
                  a.label.localeCompare(b.label),
                )}
              />
            ) : (
              <Unavailable title="By status" />
            )}
          </Card>
        </div>
        <div className="grid grid-2">
          <Card title="Alerts">
            {!alerts.ok ? (
              <p className="muted">{alerts.error}</p>
            ) : alertRows.length === 0 ? (
              <Empty title="No alerts this period">You are alerted at 80%, 90% and 100% of your quota.</Empty>
            ) : (
              <ul style={{ margin: 0, paddingLeft: 18 }}>
                {alertRows.map((a, i) => (
                  <li key={a.id ?? i}>
                    {a.threshold}% of quota reached{a.createdAt ? ` on ${dateTime(a.createdAt)}` : ''}{' '}
                    {a.deliveredAt ? <span className="muted">(webhook delivered)</span> : null}
                  </li>
                ))}
              </ul>
            )}
          </Card>
          <Card title="Alert webhook">
            <p className="muted" style={{ fontSize: 14, marginTop: 0 }}>
              {consumer?.alertWebhookUrl ? (
                <>
                  Alerts are POSTed to <code>{consumer.alertWebhookUrl}</code>, signed with your webhook
                  secret.
                </>
              ) : (
                'Get quota alerts as signed JSON POSTs to your own endpoint.'
              )}
            </p>
            <ActionForm action={updateAlertWebhookAction} submitLabel="Save webhook" className="form">
              <div className="field">
                <label htmlFor="webhook-url">Webhook URL</label>
                <input
                  id="webhook-url"
                  name="url"
                  type="url"
                  defaultValue={consumer?.alertWebhookUrl ?? ''}
                  placeholder="https://example.com/hooks/tollgate"
                  aria-describedby="webhook-hint"
                />
                <p className="hint" id="webhook-hint">
                  Leave blank and save to stop alerts. Saving creates a new signing secret.
                </p>
              </div>
            </ActionForm>
          </Card>
        </div>
      </div>
    </>
  );
}
