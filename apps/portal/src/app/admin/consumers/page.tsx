import type { Metadata } from 'next';
import { ActionForm } from '../../../components/action-form.tsx';
import { dateTime } from '../../../components/format.ts';
import { Badge, Card, Empty, PageHeader } from '../../../components/ui.tsx';
import { requirePageUser } from '../../../server/auth/require-user.ts';
import { deps } from '../../../server/deps.ts';
import { searchConsumers } from '../../../server/queries/admin.ts';
import {
  changeConsumerPlanAction,
  reinstateConsumerAction,
  suspendConsumerAction,
} from '../../actions/admin.ts';

export const metadata: Metadata = { title: 'Consumers' };

export default async function AdminConsumers({ searchParams }: { searchParams: Promise<{ q?: string }> }) {
  await requirePageUser(['admin']);
  const { q = '' } = await searchParams;
  const query = typeof q === 'string' ? q.slice(0, 100) : '';
  const [consumers, plans] = await Promise.all([
    searchConsumers(query),
    deps().prisma.plan.findMany({
      where: { visibility: { not: 'archived' } },
      select: { id: true, name: true },
      orderBy: { priceCents: 'asc' },
    }),
  ]);
  return (
    <>
      <PageHeader
        title="Consumers"
        description="Accounts that call your APIs: search, suspend, reinstate and change plans."
      />
      <Card>
        <form className="toolbar" action="/admin/consumers">
          <div className="field" style={{ flex: 1 }}>
            <label htmlFor="q">Search by name, member email or id</label>
            <input id="q" name="q" type="search" defaultValue={query} />
          </div>
          <button type="submit" className="btn btn-secondary">
            Search
          </button>
        </form>
        {consumers.length === 0 ? (
          <Empty title="No consumers match" />
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Consumer</th>
                  <th>Members</th>
                  <th>Status</th>
                  <th>Plan</th>
                  <th>Created</th>
                  <th>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {consumers.map((c) => {
                  const sub = c.subscriptions[0];
                  return (
                    <tr key={c.id}>
                      <td>
                        {c.name}
                        <br />
                        <code className="muted" style={{ fontSize: 11 }}>
                          {c.id}
                        </code>
                      </td>
                      <td>{c.members.map((m) => m.user.email).join(', ')}</td>
                      <td>
                        <Badge tone={c.status === 'active' ? 'good' : 'bad'}>{c.status}</Badge>
                        {c.suspendedReason && <div className="hint">{c.suspendedReason}</div>}
                      </td>
                      <td>
                        {sub ? `${sub.plan.name} (${sub.status})` : <span className="muted">none</span>}
                      </td>
                      <td>{dateTime(c.createdAt)}</td>
                      <td>
                        <div className="row-actions">
                          {c.status === 'active' ? (
                            <ActionForm
                              action={suspendConsumerAction}
                              submitLabel="Suspend"
                              variant="danger"
                              inline
                              confirmText={`Suspend ${c.name}? Their calls will be refused.`}
                            >
                              <input type="hidden" name="id" value={c.id} />
                              <label className="sr-only" htmlFor={`reason-${c.id}`}>
                                Reason
                              </label>
                              <input
                                id={`reason-${c.id}`}
                                name="reason"
                                type="text"
                                placeholder="reason"
                                style={{ width: 120 }}
                              />
                            </ActionForm>
                          ) : (
                            <ActionForm
                              action={reinstateConsumerAction}
                              submitLabel="Reinstate"
                              variant="secondary"
                              inline
                            >
                              <input type="hidden" name="id" value={c.id} />
                            </ActionForm>
                          )}
                          <ActionForm
                            action={changeConsumerPlanAction}
                            submitLabel="Change plan"
                            variant="secondary"
                            inline
                          >
                            <input type="hidden" name="id" value={c.id} />
                            <label className="sr-only" htmlFor={`plan-${c.id}`}>
                              New plan
                            </label>
                            <select
                              id={`plan-${c.id}`}
                              name="planId"
                              defaultValue={sub?.planId ?? plans[0]?.id}
                            >
                              {plans.map((p) => (
                                <option key={p.id} value={p.id}>
                                  {p.name}
                                </option>
                              ))}
                            </select>
                          </ActionForm>
                        </div>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}
