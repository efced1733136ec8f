export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const INDEX = new Map([...BASE62_ALPHABET].map((ch, i) => [ch, i]));

/** Encodes bytes as a fixed-width base62 string (leading zeros kept, so width depends only on length). */
export function encodeBase62(bytes: Uint8Array, width: number): string {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return encodeBase62Int(value, width);
}

export function encodeBase62Int(value: bigint, width: number): string {
  let out = '';
  let v = value;
  while (v > 0n) {
    out = BASE62_ALPHABET[Number(v % 62n)] + out;
    v /= 62n;
  }
  if (out.length > width) throw new RangeError(`value does not fit in ${width} base62 chars`);
  return out.padStart(width, '0');
}

export function isBase62(s: string): boolean {
  for (const ch of s) if (!INDEX.has(ch)) return false;
  return true;
}

/** Width of the base62 encoding of `byteLength` bytes: ceil(8 * n / log2(62)). */
export function base62Width(byteLength: number): number {
  return Math.ceil((8 * byteLength) / Math.log2(62));
}
