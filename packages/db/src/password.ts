import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes for portal accounts: scrypt from node:crypto, stored self-describing as
 * `scrypt$N$r$p$saltB64$hashB64` so the cost can be raised later without breaking old hashes.
 * Defaults follow OWASP's scrypt minimum (N=2^17, r=8, p=1: 128 MiB, ~0.3 s on one core).
 */
export interface PasswordHashParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_PASSWORD_HASH_PARAMS: PasswordHashParams = { N: 2 ** 17, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds for parameters read back from storage, so a corrupt row cannot demand gigabytes.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

function derive(
  password: string,
  salt: Buffer,
  keyLength: number,
  params: PasswordHashParams,
): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function validParams({ N, r, p }: PasswordHashParams): boolean {
  const isInt = (n: number, max: number) => Number.isSafeInteger(n) && n >= 1 && n <= max;
  return isInt(N, MAX_N) && N >= 2 && (N & (N - 1)) === 0 && isInt(r, MAX_R) && isInt(p, MAX_P);
}

export async function hashPassword(
  password: string,
  params: PasswordHashParams = DEFAULT_PASSWORD_HASH_PARAMS,
): Promise<string> {
  if (!validParams(params)) throw new RangeError('invalid scrypt parameters');
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `password` matches `stored`. A malformed `stored` value is a mismatch, never an exception. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, hashB64] = parts as [string, string, string, string, string, string];
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  if (!validParams(params)) return false;
  const salt = Buffer.from(saltB64, 'base64');
  const expected = Buffer.from(hashB64, 'base64');
  if (salt.length === 0 || expected.length < 16) return false;
  const actual = await derive(password, salt, expected.length, params);
  return timingSafeEqual(actual, expected);
}
