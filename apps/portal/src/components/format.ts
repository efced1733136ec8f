const num = new Intl.NumberFormat('en-US');

export function n(value: number | bigint | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return num.format(value);
}

export function money(cents: number | bigint, currency = 'usd'): string {
  const c = Number(cents);
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(
    c / 100,
  );
}

export function dateTime(value: Date | string | null | undefined): string {
  if (!value) return '—';
  const d = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) return '—';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function date(value: Date | string | null | undefined): string {
  if (!value) return '—';
  const d = typeof value === 'string' ? new Date(value) : value;
  return Number.isNaN(d.getTime()) ? '—' : d.toISOString().slice(0, 10);
}
