import type { Metadata } from 'next';
import Link from 'next/link';
import { Empty, PageHeader } from '../../components/ui.tsx';
import { listApis } from '../../server/queries/catalog.ts';

export const metadata: Metadata = { title: 'API catalog' };

export default async function ApisPage() {
  const apis = await listApis();
  return (
    <>
      <PageHeader
        title="API catalog"
        description="Every API you can call through Tollgate, with its reference and a first call."
      />
      {apis.length === 0 ? (
        <Empty title="No APIs published yet" />
      ) : (
        <div className="grid grid-3">
          {apis.map((api) => (
            <section key={api.id} className="card">
              <h2 className="card-title">
                <Link href={`/apis/${api.slug}`}>{api.name}</Link>
              </h2>
              <p className="muted">{api.description || 'No description yet.'}</p>
              <p style={{ fontSize: 13 }}>
                <code>{api.basePath}</code> · {api._count.routes} route{api._count.routes === 1 ? '' : 's'}
              </p>
            </section>
          ))}
        </div>
      )}
    </>
  );
}
