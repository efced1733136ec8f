import { createHash, randomBytes } from 'node:crypto';

/** 256 random bits, base64url: session cookies and admin tokens. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Lowercase hex SHA-256: only this is stored for session and admin tokens. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
