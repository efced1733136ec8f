/**
 * ClickHouse 18.16 has no query parameters, so every value placed in SQL goes through these
 * functions and nothing else. They render literals that both 18.16 and current ClickHouse parse
 * the same way; anything they cannot render safely throws instead of guessing.
 */
const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};

/** A string literal: backslash and quote escaped, control chars as escapes. */
export function sqlString(value: string): string {
  return `'${value.replace(/[\\'\n\r\t\0\b\f]/g, (ch) => ESCAPES[ch]!)}'`;
}

export function sqlInt(value: number | bigint): string {
  if (typeof value === 'bigint') return value.toString();
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  return String(value);
}

/** A DateTime literal in UTC from a JS Date (second precision, as DateTime stores). */
export function sqlDateTime(value: Date): string {
  const ms = value.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid date');
  return `toDateTime(${sqlInt(Math.floor(ms / 1000))})`;
}

/** An identifier (database, table, column) from a fixed allowlist pattern; never user free text. */
export function sqlIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) throw new RangeError(`not a safe identifier: ${name}`);
  return name;
}

export function sqlStringList(values: readonly string[]): string {
  return `(${values.map(sqlString).join(', ')})`;
}
