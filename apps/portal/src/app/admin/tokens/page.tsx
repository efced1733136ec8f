import type { Metadata } from 'next';
import { ActionForm } from '../../../components/action-form.tsx';
import { dateTime } from '../../../components/format.ts';
import { Badge, Card, Empty, PageHeader } from '../../../components/ui.tsx';
import { requirePageUser } from '../../../server/auth/require-user.ts';
import { deps } from '../../../server/deps.ts';
import { createAdminTokenAction, revokeAdminTokenAction } from '../../actions/admin.ts';

export const metadata: Metadata = { title: 'Admin API tokens' };

export default async function TokensPage() {
  await requirePageUser(['admin']);
  const tokens = await deps().prisma.adminToken.findMany({
    orderBy: { createdAt: 'desc' },
    select: { id: true, name: true, prefix: true, createdAt: true, lastUsedAt: true, revokedAt: true },
  });
  return (
    <>
      <PageHeader
        title="Admin API tokens"
        description="Bearer tokens for the /admin/v1 REST API (OpenAPI at /admin/v1/openapi.json). A token is shown once."
      />
      <div className="stack">
        <Card title="New token">
          <ActionForm
            action={createAdminTokenAction}
            submitLabel="Create token"
            className="form"
            resetOnSuccess
          >
            <div className="field">
              <label htmlFor="t-name">Name</label>
              <input id="t-name" name="name" type="text" required placeholder="e.g. terraform" />
            </div>
          </ActionForm>
        </Card>
        <Card title="Tokens">
          {tokens.length === 0 ? (
            <Empty title="No tokens yet" />
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Token</th>
                    <th>Created</th>
                    <th>Last used</th>
                    <th>Status</th>
                    <th>
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {tokens.map((t) => (
                    <tr key={t.id}>
                      <td>{t.name}</td>
                      <td>
                        <code>{t.prefix}…</code>
                      </td>
                      <td>{dateTime(t.createdAt)}</td>
                      <td>{dateTime(t.lastUsedAt)}</td>
                      <td>
                        {t.revokedAt ? <Badge tone="bad">revoked</Badge> : <Badge tone="good">active</Badge>}
                      </td>
                      <td>
                        {!t.revokedAt && (
                          <ActionForm
                            action={revokeAdminTokenAction}
                            submitLabel="Revoke"
                            variant="danger"
                            inline
                            confirmText={`Revoke ${t.name}?`}
                          >
                            <input type="hidden" name="id" value={t.id} />
                          </ActionForm>
                        )}
                      </td>
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
