/**
 * CSV cells per RFC 4180: a field containing a comma, a double quote, CR or LF is enclosed in
 * double quotes with each quote doubled; records end in CRLF.
 *
 * Spreadsheet formula injection: a text cell beginning with `=`, `+`, `-`, `@` (or a tab or
 * CR, which some spreadsheets skip before one of those) would be evaluated as a formula when
 * finance opens the file in Excel, LibreOffice or Google Sheets. Such text cells are prefixed
 * with a single quote `'` (OWASP's recommendation), which spreadsheets display as text. Numeric
 * cells are written as numbers and never prefixed.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvText(value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function csvNumber(value: number | bigint): string {
  return String(value);
}

export function csvRecord(cells: readonly string[]): string {
  return `${cells.join(',')}\r\n`;
}
