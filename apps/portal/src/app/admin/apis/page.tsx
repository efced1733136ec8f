import type { Metadata } from 'next';
import Link from 'next/link';
import { ActionForm } from '../../../components/action-form.tsx';
import { Card, Empty, PageHeader } from '../../../components/ui.tsx';
import { requirePageUser } from '../../../server/auth/require-user.ts';
import { deps } from '../../../server/deps.ts';
import { configQuarantine } from '../../../server/queries/config.ts';
import { saveApiAction } from '../../actions/admin.ts';

export const metadata: Metadata = { title: 'APIs and routes' };

export default async function AdminApis() {
  await requirePageUser(['admin']);
  const [apis, quarantine] = await Promise.all([
    deps().prisma.api.findMany({
      orderBy: { name: 'asc' },
      include: { _count: { select: { routes: true, targets: true } } },
    }),
    configQuarantine(),
  ]);
  const quarantined = new Set(quarantine.quarantined.filter((q) => q.kind === 'api').map((q) => q.id));
  return (
    <>
      <PageHeader
        title="APIs and routes"
        description="Upstream APIs exposed through the gateway, their routes, costs and targets."
      />
      <div className="stack">
        <Card title="All APIs">
          {apis.length === 0 ? (
            <Empty title="No APIs yet">Create one below.</Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Slug</th>
                    <th>Base path</th>
                    <th className="num">Routes</th>
                    <th className="num">Upstreams</th>
                  </tr>
                </thead>
                <tbody>
                  {apis.map((a) => (
                    <tr key={a.id}>
                      <td>
                        <Link href={`/admin/apis/${a.id}`}>{a.name}</Link>{' '}
                        {quarantined.has(a.id) && <span className="badge badge-warn">quarantined</span>}
                      </td>
                      <td>
                        <code>{a.slug}</code>
                      </td>
                      <td>
                        <code>{a.basePath}</code>
                      </td>
                      <td className="num">{a._count.routes}</td>
                      <td className="num">{a._count.targets}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
        <Card title="New API">
          <ActionForm action={saveApiAction} submitLabel="Create API" className="form">
            <div className="form-row">
              <div className="field">
                <label htmlFor="api-name">Name</label>
                <input id="api-name" name="name" type="text" required />
              </div>
              <div className="field">
                <label htmlFor="api-slug">Slug</label>
                <input id="api-slug" name="slug" type="text" required pattern="[a-z0-9][a-z0-9\-]*" />
              </div>
              <div className="field">
                <label htmlFor="api-base">Base path</label>
                <input id="api-base" name="basePath" type="text" required placeholder="/weather" />
              </div>
              <div className="field">
                <label htmlFor="api-hosts">Hosts (optional)</label>
                <input id="api-hosts" name="hosts" type="text" placeholder="api.example.com" />
              </div>
            </div>
            <div className="field">
              <label htmlFor="api-description">Description</label>
              <input id="api-description" name="description" type="text" />
            </div>
            <label className="check">
              <input type="checkbox" name="stripBasePath" defaultChecked /> Strip the base path before
              proxying
            </label>
          </ActionForm>
        </Card>
      </div>
    </>
  );
}
