import type { Metadata } from 'next';
import Link from 'next/link';
import { dateTime, n } from '../../components/format.ts';
import { Card, PageHeader, Stat } from '../../components/ui.tsx';
import { requirePageUser } from '../../server/auth/require-user.ts';
import { deps } from '../../server/deps.ts';
import { auditEntries } from '../../server/queries/admin.ts';

export const metadata: Metadata = { title: 'Admin' };

export default async function AdminHome() {
  await requirePageUser(['admin']);
  const prisma = deps().prisma;
  const [consumers, suspended, subs, apis, plans, recent] = await Promise.all([
    prisma.consumer.count(),
    prisma.consumer.count({ where: { status: 'suspended' } }),
    prisma.subscription.count({ where: { status: { in: ['active', 'trialing'] } } }),
    prisma.api.count(),
    prisma.plan.count({ where: { visibility: { not: 'archived' } } }),
    auditEntries({}, 8),
  ]);
  return (
    <>
      <PageHeader
        title="Admin"
        description="Run the platform: APIs, plans, consumers and their audit trail."
      />
      <div className="stack">
        <div className="grid grid-4">
          <Card>
            <Stat label="Consumers" value={n(consumers)} hint={`${n(suspended)} suspended`} />
          </Card>
          <Card>
            <Stat label="Active subscriptions" value={n(subs)} />
          </Card>
          <Card>
            <Stat label="APIs" value={n(apis)} hint={<Link href="/admin/apis">Manage</Link>} />
          </Card>
          <Card>
            <Stat label="Plans" value={n(plans)} hint={<Link href="/admin/plans">Manage</Link>} />
          </Card>
        </div>
        <Card title="Recent admin actions" footer={<Link href="/admin/audit">Full audit log →</Link>}>
          {recent.length === 0 ? (
            <p className="muted">Nothing yet.</p>
          ) : (
            <ul style={{ margin: 0, paddingLeft: 18 }}>
              {recent.map((e) => (
                <li key={e.id.toString()}>
                  <code>{e.action}</code> on {e.targetType} by {e.actorKind} ·{' '}
                  <span className="muted">{dateTime(e.at)}</span>
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </>
  );
}
