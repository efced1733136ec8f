import type { Metadata } from 'next';
import Link from 'next/link';
import { Gauge } from '../../components/charts.tsx';
import { dateTime, n } from '../../components/format.ts';
import { planPrice } from '../../components/plan-features.tsx';
import { Badge, Card, Notice, PageHeader, Stat } from '../../components/ui.tsx';
import { ownConsumerId, requirePageUser } from '../../server/auth/require-user.ts';
import { deps } from '../../server/deps.ts';
import { consumerById, currentPeriod, currentSubscription } from '../../server/queries/developer.ts';
import { metering } from '../../server/services/metering.ts';

export const metadata: Metadata = { title: 'Dashboard' };

export default async function DashboardPage() {
  const actor = await requirePageUser(['developer']);
  const consumerId = ownConsumerId(actor);
  const [consumer, sub, activeKeys, quota] = await Promise.all([
    consumerById(consumerId),
    currentSubscription(consumerId),
    deps().prisma.apiKey.count({ where: { consumerId, revokedAt: null } }),
    metering.quota(consumerId),
  ]);
  const quotaCard = !sub ? null : quota;
  return (
    <>
      <PageHeader title={`Welcome, ${actor.name ?? 'developer'}`} description={consumer?.name} />
      <div className="stack">
        {consumer?.status === 'suspended' && (
          <Notice tone="error">
            Your account is suspended{consumer.suspendedReason ? `: ${consumer.suspendedReason}` : ''}. API
            calls are refused.
          </Notice>
        )}
        {!sub && (
          <Notice tone="info">
            You have no plan yet. <Link href="/pricing">Pick a plan</Link> to start calling APIs.
          </Notice>
        )}
        <div className="grid grid-3">
          <Card title="Plan">
            <Stat
              label={sub ? `Status: ${sub.status}` : 'No subscription'}
              value={sub ? sub.plan.name : '—'}
              hint={
                sub ? (
                  `${planPrice(sub.plan)} · renews ${dateTime(currentPeriod(sub).to)}`
                ) : (
                  <Link href="/pricing">See plans</Link>
                )
              }
            />
          </Card>
          <Card title="API keys">
            <Stat label="Active keys" value={n(activeKeys)} hint={<Link href="/keys">Manage keys</Link>} />
          </Card>
          <Card title="Quota this period">
            {!quotaCard ? (
              <p className="muted">No plan yet, so no quota.</p>
            ) : quotaCard.ok ? (
              <Gauge
                percent={quotaCard.data.percent}
                label={`${n(quotaCard.data.used)} of ${quotaCard.data.quota === null ? 'unlimited' : n(quotaCard.data.quota)}`}
                sublabel={`Resets ${dateTime(quotaCard.data.periodEnd)}`}
              />
            ) : (
              <Notice tone="warn">{quotaCard.error}</Notice>
            )}
          </Card>
        </div>
        <Card title="Next steps">
          <ol style={{ margin: 0, paddingLeft: 20 }}>
            <li>
              Browse the <Link href="/apis">API catalog</Link> and its reference.
            </li>
            <li>
              Create a key on <Link href="/keys">API keys</Link> <Badge tone="neutral">shown once</Badge>
            </li>
            <li>
              Watch requests arrive on <Link href="/usage">Usage</Link>.
            </li>
          </ol>
        </Card>
      </div>
    </>
  );
}
