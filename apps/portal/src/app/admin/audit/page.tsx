import type { Metadata } from 'next';
import { dateTime } from '../../../components/format.ts';
import { Card, Empty, PageHeader } from '../../../components/ui.tsx';
import { requirePageUser } from '../../../server/auth/require-user.ts';
import { auditEntries } from '../../../server/queries/admin.ts';

export const metadata: Metadata = { title: 'Audit log' };

function changes(before: unknown, after: unknown): string {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  if (!before) return after ? 'created' : '';
  if (!after) return 'deleted';
  const keys = Object.keys(a).filter(
    (k) =>
      !['updatedAt', 'createdAt', 'entitlements'].includes(k) &&
      JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );
  return keys
    .map((k) => `${k}: ${JSON.stringify(b[k] ?? null)} → ${JSON.stringify(a[k] ?? null)}`)
    .join('; ');
}

export default async function AuditPage({
  searchParams,
}: {
  searchParams: Promise<{ action?: string; target?: string }>;
}) {
  await requirePageUser(['admin']);
  const sp = await searchParams;
  const action = typeof sp.action === 'string' ? sp.action.slice(0, 60) : '';
  const target = typeof sp.target === 'string' ? sp.target.slice(0, 60) : '';
  const entries = await auditEntries({ action: action || undefined, targetType: target || undefined }, 200);
  return (
    <>
      <PageHeader
        title="Audit log"
        description="Every admin action, written in the same transaction as the change."
      />
      <Card>
        <form className="toolbar" action="/admin/audit">
          <div className="field">
            <label htmlFor="a-action">Action starts with</label>
            <input id="a-action" name="action" type="text" defaultValue={action} placeholder="plan." />
          </div>
          <div className="field">
            <label htmlFor="a-target">Target type</label>
            <select id="a-target" name="target" defaultValue={target}>
              <option value="">any</option>
              {['plan', 'api', 'route', 'upstream_target', 'consumer', 'admin_token'].map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" className="btn btn-secondary">
            Filter
          </button>
        </form>
        {entries.length === 0 ? (
          <Empty title="No audit entries" />
        ) : (
          <div className="table-wrap">
            <table data-testid="audit-table">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Who</th>
                  <th>Action</th>
                  <th>Target</th>
                  <th>Change</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((e) => (
                  <tr key={e.id.toString()}>
                    <td style={{ whiteSpace: 'nowrap' }}>{dateTime(e.at)}</td>
                    <td>{e.actorKind}</td>
                    <td>
                      <code>{e.action}</code>
                    </td>
                    <td>
                      {e.targetType}{' '}
                      <code className="muted" style={{ fontSize: 11 }}>
                        {e.targetId?.slice(0, 8)}
                      </code>
                    </td>
                    <td style={{ fontSize: 13, maxWidth: 460, wordBreak: 'break-word' }}>
                      {changes(e.before, e.after)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}
