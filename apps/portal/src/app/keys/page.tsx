import type { Metadata } from 'next';
import { ActionForm } from '../../components/action-form.tsx';
import { dateTime } from '../../components/format.ts';
import { RotateKeyDialog } from '../../components/rotate-key-dialog.tsx';
import { Badge, Card, Empty, PageHeader } from '../../components/ui.tsx';
import { ownConsumerId, requirePageUser } from '../../server/auth/require-user.ts';
import { deps } from '../../server/deps.ts';
import { createApiKeyAction, revokeApiKeyAction, rotateApiKeyAction } from '../actions/developer.ts';

export const metadata: Metadata = { title: 'API keys' };

function keyStatus(k: { revokedAt: Date | null; expiresAt: Date | null }) {
  if (k.revokedAt) return <Badge tone="bad">revoked</Badge>;
  if (k.expiresAt && k.expiresAt.getTime() <= Date.now()) return <Badge tone="neutral">expired</Badge>;
  if (k.expiresAt) return <Badge tone="warn">expires {dateTime(k.expiresAt)}</Badge>;
  return <Badge tone="good">active</Badge>;
}

export default async function KeysPage() {
  const actor = await requirePageUser(['developer']);
  const consumerId = ownConsumerId(actor);
  const keys = await deps().prisma.apiKey.findMany({
    where: { consumerId },
    orderBy: [{ revokedAt: { sort: 'desc', nulls: 'first' } }, { createdAt: 'desc' }],
    select: {
      id: true,
      name: true,
      prefix: true,
      lastFour: true,
      scopes: true,
      createdAt: true,
      lastUsedAt: true,
      expiresAt: true,
      revokedAt: true,
    },
  });
  return (
    <>
      <PageHeader
        title="API keys"
        description="Keys authenticate your calls. The full secret is shown once, when the key is created."
      />
      <div className="stack">
        <Card title="Create a key">
          <ActionForm
            action={createApiKeyAction}
            submitLabel="Create key"
            pendingLabel="Creating…"
            className="form"
            resetOnSuccess
            testId="create-key-form"
          >
            <div className="form-row">
              <div className="field">
                <label htmlFor="key-name">Name</label>
                <input
                  id="key-name"
                  name="name"
                  type="text"
                  required
                  maxLength={80}
                  placeholder="e.g. production server"
                />
              </div>
              <div className="field">
                <label htmlFor="key-scopes">Scopes (optional)</label>
                <input
                  id="key-scopes"
                  name="scopes"
                  type="text"
                  placeholder="read:echo, write:echo"
                  aria-describedby="key-scopes-hint"
                />
                <p className="hint" id="key-scopes-hint">
                  Comma-separated. Leave blank for every API your plan includes.
                </p>
              </div>
              <div className="field">
                <label htmlFor="key-expiry">Expires after (days)</label>
                <input
                  id="key-expiry"
                  name="expiresInDays"
                  type="number"
                  min={0}
                  max={3650}
                  placeholder="never"
                  aria-describedby="key-expiry-hint"
                />
                <p className="hint" id="key-expiry-hint">
                  Blank or 0: never expires.
                </p>
              </div>
            </div>
          </ActionForm>
        </Card>
        <Card title="Your keys">
          {keys.length === 0 ? (
            <Empty title="No keys yet">Create your first key above.</Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="keys-table">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Key</th>
                    <th scope="col">Scopes</th>
                    <th scope="col">Status</th>
                    <th scope="col">Last used</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {keys.map((k) => (
                    <tr key={k.id} data-key-id={k.id}>
                      <td>{k.name}</td>
                      <td>
                        <code className="nowrap">
                          {k.prefix}…{k.lastFour}
                        </code>
                      </td>
                      <td>{k.scopes.length ? k.scopes.join(', ') : <span className="muted">all</span>}</td>
                      <td>{keyStatus(k)}</td>
                      <td>{dateTime(k.lastUsedAt)}</td>
                      <td>
                        {!k.revokedAt && (
                          <div className="row-actions">
                            <RotateKeyDialog keyId={k.id} keyName={k.name} action={rotateApiKeyAction} />
                            <ActionForm
                              action={revokeApiKeyAction}
                              submitLabel="Revoke"
                              variant="danger"
                              inline
                              confirmText={`Revoke ${k.name}? Calls with it will be refused within seconds.`}
                            >
                              <input type="hidden" name="keyId" value={k.id} />
                            </ActionForm>
                          </div>
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
