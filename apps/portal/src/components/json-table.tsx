import { Empty } from './ui.tsx';

type Row = Record<string, unknown>;

/** Finds the row list in a service report: an array, or the first array property of an object. */
export function rowsOf(data: unknown): Row[] {
  if (Array.isArray(data)) return data.filter((r): r is Row => typeof r === 'object' && r !== null);
  if (typeof data === 'object' && data !== null) {
    for (const key of ['rows', 'lines', 'consumers', 'items', 'data']) {
      const v = (data as Row)[key];
      if (Array.isArray(v)) return rowsOf(v);
    }
    for (const v of Object.values(data)) if (Array.isArray(v)) return rowsOf(v);
  }
  return [];
}

function humanize(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replaceAll('_', ' ')
    .toLowerCase();
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return new Intl.NumberFormat('en-US').format(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A readable table for a JSON report whose columns are not known in advance. */
export function JsonTable({ rows, caption, testId }: { rows: Row[]; caption: string; testId?: string }) {
  if (rows.length === 0) return <Empty title="No rows for this period" />;
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))].slice(0, 12);
  return (
    <div className="table-wrap">
      <table data-testid={testId}>
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col" className={typeof rows[0]?.[c] === 'number' ? 'num' : undefined}>
                {humanize(c)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, 500).map((r, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: report rows have no stable id
            <tr key={i}>
              {columns.map((c) => (
                <td key={c} className={typeof r[c] === 'number' ? 'num' : undefined}>
                  {cell(r[c])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
