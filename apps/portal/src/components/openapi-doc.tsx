/**
 * Renders the parts of an OpenAPI 3 document a person reads: info, operations with their
 * parameters, request body and responses. Unknown shapes are skipped, never trusted as HTML.
 */
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'] as const;

export interface Operation {
  method: string;
  path: string;
  summary?: string;
  description?: string;
  parameters: { name: string; in: string; required: boolean; description?: string; type?: string }[];
  requestBody?: string;
  responses: { status: string; description?: string }[];
}

export function operationsOf(doc: unknown): Operation[] {
  if (!isObj(doc) || !isObj(doc.paths)) return [];
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!isObj(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!isObj(op)) continue;
      const params = [
        ...(Array.isArray(item.parameters) ? item.parameters : []),
        ...(Array.isArray(op.parameters) ? op.parameters : []),
      ];
      const body =
        isObj(op.requestBody) && isObj(op.requestBody.content)
          ? Object.keys(op.requestBody.content).join(', ')
          : undefined;
      ops.push({
        method: method.toUpperCase(),
        path,
        summary: str(op.summary),
        description: str(op.description),
        parameters: params.filter(isObj).map((p) => ({
          name: str(p.name) ?? '?',
          in: str(p.in) ?? '?',
          required: p.required === true,
          description: str(p.description),
          type: isObj(p.schema) ? str(p.schema.type) : undefined,
        })),
        requestBody: body,
        responses: isObj(op.responses)
          ? Object.entries(op.responses).map(([status, r]) => ({
              status,
              description: isObj(r) ? str(r.description) : undefined,
            }))
          : [],
      });
    }
  }
  return ops;
}

export function OpenApiDoc({ doc, basePath = '' }: { doc: unknown; basePath?: string }) {
  const prefix = basePath.replace(/\/+$/, '');
  const info = isObj(doc) && isObj(doc.info) ? doc.info : {};
  const ops = operationsOf(doc);
  return (
    <div className="stack">
      {(str(info.title) || str(info.version)) && (
        <p className="muted">
          {str(info.title)}{' '}
          {str(info.version) && <span className="badge badge-neutral">v{str(info.version)}</span>}
        </p>
      )}
      {str(info.description) && <p>{str(info.description)}</p>}
      {ops.length === 0 ? (
        <p className="muted">This document lists no operations.</p>
      ) : (
        ops.map((op) => (
          <article key={`${op.method} ${op.path}`} className="endpoint">
            <h3>
              <span className="method">{op.method}</span>
              <code>{prefix + op.path}</code>
            </h3>
            {op.summary && <p style={{ margin: '4px 0' }}>{op.summary}</p>}
            {op.description && (
              <p className="muted" style={{ margin: '4px 0' }}>
                {op.description}
              </p>
            )}
            {op.parameters.length > 0 && (
              <div className="table-wrap">
                <table>
                  <caption className="sr-only">Parameters</caption>
                  <thead>
                    <tr>
                      <th>Parameter</th>
                      <th>In</th>
                      <th>Type</th>
                      <th>Description</th>
                    </tr>
                  </thead>
                  <tbody>
                    {op.parameters.map((p) => (
                      <tr key={`${p.in}-${p.name}`}>
                        <td>
                          <code>{p.name}</code>{' '}
                          {p.required && <span className="badge badge-warn">required</span>}
                        </td>
                        <td>{p.in}</td>
                        <td>{p.type ?? '—'}</td>
                        <td>{p.description ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {op.requestBody && (
              <p className="muted" style={{ margin: '6px 0' }}>
                Request body: <code>{op.requestBody}</code>
              </p>
            )}
            {op.responses.length > 0 && (
              <p style={{ margin: '6px 0', fontSize: 14 }}>
                Responses:{' '}
                {op.responses.map((r) => (
                  <span key={r.status} style={{ marginRight: 10 }}>
                    <span className="badge badge-neutral">{r.status}</span> {r.description}
                  </span>
                ))}
              </p>
            )}
          </article>
        ))
      )}
    </div>
  );
}
