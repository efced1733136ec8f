import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { CopyButton } from '../../../components/copy-button.tsx';
import { OpenApiDoc, operationsOf } from '../../../components/openapi-doc.tsx';
import { Card, PageHeader } from '../../../components/ui.tsx';
import { getConfig } from '../../../config.ts';
import { apiBySlug } from '../../../server/queries/catalog.ts';

export const metadata: Metadata = { title: 'API reference' };

function joinPath(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`.replace(/\/+$/, '') || '/';
}

export default async function ApiPage({ params }: { params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(slug)) notFound();
  const api = await apiBySlug(slug);
  if (!api) notFound();
  const firstGet = operationsOf(api.openapi).find((o) => o.method === 'GET' && !o.path.includes('{'));
  const firstRoute = api.routes.find((r) => r.methods.length === 0 || r.methods.includes('GET'));
  const path = firstGet?.path ?? firstRoute?.path ?? '/';
  const url = `${getConfig().GATEWAY_PUBLIC_URL.replace(/\/$/, '')}${joinPath(api.basePath, path)}`;
  const curl = `curl -sS '${url}' \\\n  -H "Authorization: Bearer $TOLLGATE_KEY"`;
  return (
    <>
      <PageHeader title={api.name} description={api.description || undefined} />
      <div className="grid grid-doc">
        <Card title="Reference">
          {api.openapi ? (
            <OpenApiDoc doc={api.openapi} basePath={api.basePath} />
          ) : (
            <div className="stack">
              <p className="muted">No OpenAPI document yet. Routes:</p>
              {api.routes.map((r) => (
                <div key={r.id} className="endpoint">
                  <span className="method">{r.methods.length ? r.methods.join(', ') : 'ANY'}</span>
                  <code>{joinPath(api.basePath, r.path)}</code> <span className="muted">— {r.name}</span>
                </div>
              ))}
            </div>
          )}
        </Card>
        <div className="stack">
          <Card title="Your first call">
            <p className="muted" style={{ fontSize: 14 }}>
              Create a key on the API keys page, export it as <code>TOLLGATE_KEY</code>, then run:
            </p>
            <div className="copy-block">
              <pre className="pre" data-testid="curl-example">
                {curl}
              </pre>
              <CopyButton value={curl.replace('\\\n  ', '')} />
            </div>
            <p className="hint">The key can also be sent as an X-API-Key header.</p>
          </Card>
          <Card title="Routes and costs">
            <ul style={{ paddingLeft: 18, margin: 0, fontSize: 14 }}>
              {api.routes.map((r) => (
                <li key={r.id}>
                  <code>{joinPath(api.basePath, r.path)}</code> — {r.cost} unit{r.cost === 1 ? '' : 's'} per
                  call
                  {r.public && ' (public)'}
                </li>
              ))}
            </ul>
          </Card>
        </div>
      </div>
    </>
  );
}
