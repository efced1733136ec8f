import type { Metadata } from 'next';
import Link from 'next/link';
import { ActionForm } from '../../../components/action-form.tsx';
import { dateTime } from '../../../components/format.ts';
import { Card, Empty, PageHeader } from '../../../components/ui.tsx';
import { requirePageUser } from '../../../server/auth/require-user.ts';
import { configQuarantine, configVersions } from '../../../server/queries/config.ts';
import { rollbackConfigVersionAction } from '../../actions/admin.ts';

export const metadata: Metadata = { title: 'Configuration' };

export default async function AdminConfig() {
  await requirePageUser(['admin']);
  const [quarantine, { current, versions }] = await Promise.all([
    configQuarantine(),
    configVersions({ limit: 50 }),
  ]);
  return (
    <>
      <PageHeader
        title="Configuration"
        description={`Version ${current} is current. Every change of APIs, routes, upstreams, plans or entitlements is a new version; restore an earlier one in one click.`}
      />
      <div className="stack">
        <Card title="Quarantined rows">
          {quarantine.quarantined.length === 0 ? (
            <p className="muted" data-testid="quarantine-empty">
              None: the gateway serves every API and plan as stored.
            </p>
          ) : (
            <>
              <p className="muted">
                Written past the admin API, the gateway cannot serve these as stored. It keeps serving each
                one&apos;s last good version (a row that was never good is not served); everything else keeps
                applying. Fix or delete them.
              </p>
              <ul data-testid="quarantine-list">
                {quarantine.quarantined.map((q) => (
                  <li key={`${q.kind}:${q.id}`}>
                    <span className="badge badge-warn">{q.kind}</span>{' '}
                    {q.kind === 'api' ? (
                      <Link href={`/admin/apis/${q.id}`}>{q.name}</Link>
                    ) : (
                      <Link href={`/admin/plans/${q.id}`}>{q.name}</Link>
                    )}
                    <ul>
                      {q.problems.map((p) => (
                        <li key={p}>
                          <code>{p}</code>
                        </li>
                      ))}
                    </ul>
                  </li>
                ))}
              </ul>
            </>
          )}
        </Card>
        <Card title="Versions">
          {versions.length === 0 ? (
            <Empty title="No versions" />
          ) : (
            <div className="table-wrap">
              <table data-testid="versions-table">
                <thead>
                  <tr>
                    <th className="num">Version</th>
                    <th>When</th>
                    <th>Who</th>
                    <th className="num">APIs</th>
                    <th className="num">Routes</th>
                    <th className="num">Upstreams</th>
                    <th className="num">Plans</th>
                    <th>
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {versions.map((v) => (
                    <tr key={v.version}>
                      <td className="num">
                        {v.version}
                        {v.restoredFrom !== null && (
                          <span className="muted"> (restores {v.restoredFrom})</span>
                        )}
                      </td>
                      <td style={{ whiteSpace: 'nowrap' }}>{dateTime(v.createdAt)}</td>
                      <td>{v.actor ?? <span className="muted">direct write</span>}</td>
                      <td className="num">{v.apis}</td>
                      <td className="num">{v.routes}</td>
                      <td className="num">{v.targets}</td>
                      <td className="num">{v.plans}</td>
                      <td>
                        {v.version === current ? (
                          <span className="badge">current</span>
                        ) : (
                          <ActionForm
                            action={rollbackConfigVersionAction}
                            submitLabel="Restore"
                            variant="secondary"
                            inline
                            confirmText={`Restore the configuration of version ${v.version}?`}
                          >
                            <input type="hidden" name="version" value={v.version} />
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
