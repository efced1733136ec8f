import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { ActionForm } from '../../../../components/action-form.tsx';
import { DialogButton } from '../../../../components/dialog-button.tsx';
import { Card, Empty, PageHeader } from '../../../../components/ui.tsx';
import { requirePageUser } from '../../../../server/auth/require-user.ts';
import { deps } from '../../../../server/deps.ts';
import { configQuarantine } from '../../../../server/queries/config.ts';
import {
  addUpstreamTargetAction,
  deleteApiAction,
  deleteRouteAction,
  removeUpstreamTargetAction,
  saveApiAction,
  saveRouteAction,
} from '../../../actions/admin.ts';

export const metadata: Metadata = { title: 'Edit API' };

export default async function AdminApi({ params }: { params: Promise<{ id: string }> }) {
  await requirePageUser(['admin']);
  const { id } = await params;
  if (!/^[0-9a-f-]{36}$/i.test(id)) notFound();
  const api = await deps().prisma.api.findUnique({
    where: { id },
    include: { routes: { orderBy: { path: 'asc' } }, targets: true },
  });
  if (!api) notFound();
  const quarantined = (await configQuarantine()).quarantined.find((q) => q.kind === 'api' && q.id === api.id);
  return (
    <>
      <PageHeader title={api.name} description={`Base path ${api.basePath}`} />
      <div className="stack">
        {quarantined && (
          <Card title="Quarantined by the gateway">
            <p role="alert" data-testid="api-quarantine">
              This API was changed past the admin API and the gateway cannot serve it as stored: it serves the
              API&apos;s last good version (none if it was never good). Fix these:
            </p>
            <ul>
              {quarantined.problems.map((p) => (
                <li key={p}>
                  <code>{p}</code>
                </li>
              ))}
            </ul>
          </Card>
        )}
        <Card title="Settings">
          <ActionForm action={saveApiAction} submitLabel="Save API" className="form">
            <input type="hidden" name="id" value={api.id} />
            <div className="form-row">
              <div className="field">
                <label htmlFor="api-name">Name</label>
                <input id="api-name" name="name" type="text" required defaultValue={api.name} />
              </div>
              <div className="field">
                <label htmlFor="api-slug">Slug</label>
                <input id="api-slug" name="slug" type="text" required defaultValue={api.slug} />
              </div>
              <div className="field">
                <label htmlFor="api-base">Base path</label>
                <input id="api-base" name="basePath" type="text" required defaultValue={api.basePath} />
              </div>
              <div className="field">
                <label htmlFor="api-hosts">Hosts</label>
                <input id="api-hosts" name="hosts" type="text" defaultValue={api.hosts.join(', ')} />
              </div>
            </div>
            <div className="field">
              <label htmlFor="api-description">Description</label>
              <input id="api-description" name="description" type="text" defaultValue={api.description} />
            </div>
            <label className="check">
              <input type="checkbox" name="stripBasePath" defaultChecked={api.stripBasePath} /> Strip the base
              path before proxying
            </label>
            <div className="field">
              <label htmlFor="api-openapi">OpenAPI document (JSON)</label>
              <textarea
                id="api-openapi"
                name="openapi"
                defaultValue={api.openapi ? JSON.stringify(api.openapi, null, 2) : ''}
              />
            </div>
          </ActionForm>
        </Card>
        <div className="grid grid-2">
          <Card title="Routes">
            {api.routes.length === 0 ? (
              <Empty title="No routes" />
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Route</th>
                      <th>Methods</th>
                      <th className="num">Cost</th>
                      <th>
                        <span className="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {api.routes.map((r) => (
                      <tr key={r.id}>
                        <td>
                          {r.name}
                          <br />
                          <code>{r.path}</code> <span className="muted">{r.pathMatch}</span>{' '}
                          {r.public && <span className="badge badge-warn">public</span>}
                        </td>
                        <td>{r.methods.length ? r.methods.join(', ') : 'any'}</td>
                        <td className="num">{r.cost}</td>
                        <td>
                          <div className="row-actions">
                            <DialogButton label="Edit" title={`Edit route ${r.name}`}>
                              <ActionForm action={saveRouteAction} submitLabel="Save route" className="form">
                                <input type="hidden" name="id" value={r.id} />
                                <input type="hidden" name="apiId" value={api.id} />
                                <div className="form-row">
                                  <div className="field">
                                    <label htmlFor={`rn-${r.id}`}>Name</label>
                                    <input
                                      id={`rn-${r.id}`}
                                      name="name"
                                      type="text"
                                      required
                                      defaultValue={r.name}
                                    />
                                  </div>
                                  <div className="field">
                                    <label htmlFor={`rp-${r.id}`}>Path</label>
                                    <input
                                      id={`rp-${r.id}`}
                                      name="path"
                                      type="text"
                                      required
                                      defaultValue={r.path}
                                    />
                                  </div>
                                  <div className="field">
                                    <label htmlFor={`rm-${r.id}`}>Methods</label>
                                    <input
                                      id={`rm-${r.id}`}
                                      name="methods"
                                      type="text"
                                      defaultValue={r.methods.join(', ')}
                                      placeholder="blank: any"
                                    />
                                  </div>
                                  <div className="field">
                                    <label htmlFor={`rc-${r.id}`}>Cost (units)</label>
                                    <input
                                      id={`rc-${r.id}`}
                                      name="cost"
                                      type="number"
                                      min={0}
                                      defaultValue={r.cost}
                                    />
                                  </div>
                                  <div className="field">
                                    <label htmlFor={`rt-${r.id}`}>Timeout (ms)</label>
                                    <input
                                      id={`rt-${r.id}`}
                                      name="timeoutMs"
                                      type="number"
                                      min={100}
                                      defaultValue={r.timeoutMs}
                                    />
                                  </div>
                                  <div className="field">
                                    <label htmlFor={`rx-${r.id}`}>Match</label>
                                    <select id={`rx-${r.id}`} name="pathMatch" defaultValue={r.pathMatch}>
                                      <option value="prefix">this path and below</option>
                                      <option value="exact">this path only</option>
                                    </select>
                                  </div>
                                </div>
                                <label className="check">
                                  <input type="checkbox" name="public" defaultChecked={r.public} /> Public (no
                                  credential required)
                                </label>
                              </ActionForm>
                            </DialogButton>
                            <ActionForm
                              action={deleteRouteAction}
                              submitLabel="Delete"
                              variant="danger"
                              inline
                              confirmText={`Delete route ${r.name}?`}
                            >
                              <input type="hidden" name="id" value={r.id} />
                            </ActionForm>
                          </div>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <h3 style={{ marginTop: 16 }}>Add route</h3>
            <ActionForm action={saveRouteAction} submitLabel="Add route" className="form" resetOnSuccess>
              <input type="hidden" name="apiId" value={api.id} />
              <div className="form-row">
                <div className="field">
                  <label htmlFor="r-name">Name</label>
                  <input id="r-name" name="name" type="text" required />
                </div>
                <div className="field">
                  <label htmlFor="r-path">Path</label>
                  <input id="r-path" name="path" type="text" required placeholder="/" />
                </div>
                <div className="field">
                  <label htmlFor="r-methods">Methods</label>
                  <input id="r-methods" name="methods" type="text" placeholder="GET, POST (blank: any)" />
                </div>
                <div className="field">
                  <label htmlFor="r-cost">Cost (units)</label>
                  <input id="r-cost" name="cost" type="number" min={0} defaultValue={1} />
                </div>
                <div className="field">
                  <label htmlFor="r-timeout">Timeout (ms)</label>
                  <input id="r-timeout" name="timeoutMs" type="number" min={100} defaultValue={30000} />
                </div>
                <div className="field">
                  <label htmlFor="r-match">Match</label>
                  <select id="r-match" name="pathMatch" defaultValue="">
                    <option value="">default (public: this path only)</option>
                    <option value="prefix">this path and below</option>
                    <option value="exact">this path only</option>
                  </select>
                </div>
              </div>
              <label className="check">
                <input type="checkbox" name="public" /> Public (no credential required)
              </label>
            </ActionForm>
          </Card>
          <Card title="Upstream targets">
            {api.targets.length === 0 ? (
              <Empty title="No upstreams" />
            ) : (
              <ul style={{ listStyle: 'none', padding: 0, margin: 0, display: 'grid', gap: 8 }}>
                {api.targets.map((t) => (
                  <li
                    key={t.id}
                    style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center', gap: 8 }}
                  >
                    <span>
                      <code>{t.url}</code> <span className="muted">weight {t.weight}</span>
                    </span>
                    <ActionForm
                      action={removeUpstreamTargetAction}
                      submitLabel="Remove"
                      variant="danger"
                      inline
                      confirmText={`Remove ${t.url}?`}
                    >
                      <input type="hidden" name="id" value={t.id} />
                    </ActionForm>
                  </li>
                ))}
              </ul>
            )}
            <h3 style={{ marginTop: 16 }}>Add upstream</h3>
            <ActionForm
              action={addUpstreamTargetAction}
              submitLabel="Add upstream"
              className="form"
              resetOnSuccess
            >
              <input type="hidden" name="apiId" value={api.id} />
              <div className="form-row">
                <div className="field">
                  <label htmlFor="t-url">URL</label>
                  <input id="t-url" name="url" type="url" required placeholder="http://127.0.0.1:4010" />
                </div>
                <div className="field">
                  <label htmlFor="t-weight">Weight</label>
                  <input id="t-weight" name="weight" type="number" min={1} defaultValue={1} />
                </div>
                <div className="field">
                  <label htmlFor="t-health">Health check path</label>
                  <input id="t-health" name="healthCheckPath" type="text" placeholder="/health" />
                </div>
              </div>
            </ActionForm>
          </Card>
        </div>
        <Card title="Danger zone">
          <ActionForm
            action={deleteApiAction}
            submitLabel="Delete this API"
            variant="danger"
            confirmText={`Delete ${api.name} with all its routes?`}
          >
            <input type="hidden" name="id" value={api.id} />
          </ActionForm>
        </Card>
      </div>
    </>
  );
}
