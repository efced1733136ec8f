/**
 * Small inline-SVG charts (server components, no client JavaScript). Each is an image with a
 * text alternative, and the numbers are also printed, so nothing is colour- or hover-only.
 */
export interface Datum {
  label: string;
  value: number;
  tone?: 'good' | 'warn' | 'bad';
}

const fmt = new Intl.NumberFormat('en-US');

export function ColumnChart({
  data,
  title,
  unit = 'requests',
}: {
  data: Datum[];
  title: string;
  unit?: string;
}) {
  if (data.length === 0 || data.every((d) => d.value === 0)) return <EmptyChart title={title} />;
  const width = 960;
  const height = 240;
  const pad = { top: 12, right: 8, bottom: 28, left: 44 };
  const max = Math.max(1, ...data.map((d) => d.value));
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const step = innerW / data.length;
  const barW = Math.min(56, Math.max(2, step * 0.7));
  const every = Math.ceil(data.length / 8);
  const total = data.reduce((s, d) => s + d.value, 0);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`${title}: ${fmt.format(total)} ${unit} over ${data.length} buckets, peak ${fmt.format(max)}`}
      >
        {[0, 0.5, 1]
          .filter((f) => f !== 0.5 || (Math.round(max * f) !== 0 && Math.round(max * f) !== max))
          .map((f) => (
            <g key={f}>
              <line
                x1={pad.left}
                x2={width - pad.right}
                y1={pad.top + innerH * (1 - f)}
                y2={pad.top + innerH * (1 - f)}
                className="chart-grid"
              />
              <text
                x={pad.left - 6}
                y={pad.top + innerH * (1 - f) + 4}
                textAnchor="end"
                className="chart-axis"
              >
                {fmt.format(Math.round(max * f))}
              </text>
            </g>
          ))}
        {data.map((d, i) => {
          const h = (d.value / max) * innerH;
          const x = pad.left + i * step + (step - barW) / 2;
          return (
            <g key={d.label}>
              <rect x={x} y={pad.top + innerH - h} width={barW} height={h} rx={2} className="chart-bar">
                <title>{`${d.label}: ${fmt.format(d.value)} ${unit}`}</title>
              </rect>
              {i % every === 0 && (
                <text x={x + barW / 2} y={height - 8} textAnchor="middle" className="chart-axis">
                  {d.label}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

export function BarList({
  data,
  title,
  unit = 'requests',
  format = (v: number) => fmt.format(v),
}: {
  data: Datum[];
  title: string;
  unit?: string;
  format?: (value: number) => string;
}) {
  if (data.length === 0) return <EmptyChart title={title} />;
  const max = Math.max(1, ...data.map((d) => d.value));
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <ul className="barlist">
        {data.map((d) => (
          <li key={d.label}>
            <span className="barlist-label">{d.label}</span>
            <span className="barlist-track" aria-hidden="true">
              <span
                className={`barlist-fill${d.tone ? ` fill-${d.tone}` : ''}`}
                style={{ width: `${(d.value / max) * 100}%` }}
              />
            </span>
            <span className="barlist-value">
              {format(d.value)} {unit && <span className="muted">{unit}</span>}
            </span>
          </li>
        ))}
      </ul>
    </figure>
  );
}

export function Gauge({
  percent,
  label,
  sublabel,
}: {
  percent: number | null;
  label: string;
  sublabel?: string;
}) {
  const p = percent === null ? 0 : Math.max(0, Math.min(100, percent));
  const r = 70;
  const c = Math.PI * r;
  const tone = p >= 90 ? 'gauge-danger' : p >= 75 ? 'gauge-warn' : 'gauge-ok';
  return (
    <figure className="gauge">
      <svg
        viewBox="0 0 180 100"
        role="img"
        aria-label={`${label}: ${percent === null ? 'unlimited' : `${p.toFixed(0)}% used`}`}
      >
        <path d="M 20 90 A 70 70 0 0 1 160 90" className="gauge-track" />
        {p > 0 && (
          <path
            d="M 20 90 A 70 70 0 0 1 160 90"
            className={`gauge-value ${tone}`}
            strokeDasharray={`${Math.max(0.5, (p / 100) * c)} ${c}`}
          />
        )}
        <text x="90" y="82" textAnchor="middle" className="gauge-text">
          {percent === null ? '∞' : `${p.toFixed(0)}%`}
        </text>
      </svg>
      <figcaption>
        <strong>{label}</strong>
        {sublabel && <span className="muted">{sublabel}</span>}
      </figcaption>
    </figure>
  );
}

function EmptyChart({ title }: { title: string }) {
  return (
    <figure className="chart chart-empty">
      <figcaption>{title}</figcaption>
      <p className="muted">No requests in this period yet.</p>
    </figure>
  );
}
