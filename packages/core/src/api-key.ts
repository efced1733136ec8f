import { createHash, randomBytes } from 'node:crypto';
import { base62Width, encodeBase62, encodeBase62Int, isBase62 } from './base62.ts';
import { crc32 } from './crc32.ts';

/**
 * API key format: `tg_<env>_<secret><checksum>`
 *   env       `live` or `test`: readable, so a leaked key says where it works
 *   secret    160 random bits as 28 base62 chars (the issue asks for at least 128)
 *   checksum  CRC-32 of everything before it, as 6 base62 chars
 * The checksum lets the gateway reject typos and garbage without a cache or database lookup;
 * it is not a secret and adds no security. Only the SHA-256 hash of the whole key is stored.
 */
export const API_KEY_ENVS = ['live', 'test'] as const;
export type ApiKeyEnv = (typeof API_KEY_ENVS)[number];

export const API_KEY_SECRET_BYTES = 20;
const SECRET_WIDTH = base62Width(API_KEY_SECRET_BYTES); // 28
const CHECKSUM_WIDTH = 6;
const KEY_PATTERN = /^tg_(live|test)_([0-9A-Za-z]+)$/;
/** Characters of the key shown in UIs and logs: `tg_live_` plus the first 6 of the secret. */
export const API_KEY_DISPLAY_PREFIX_LENGTH = 'tg_live_'.length + 6;
export const API_KEY_LENGTH = 'tg_live_'.length + SECRET_WIDTH + CHECKSUM_WIDTH;

export interface GeneratedApiKey {
  /** The full secret. Show it once; never store it. */
  key: string;
  prefix: string;
  lastFour: string;
  /** Lowercase hex SHA-256 of the full key: the lookup column. */
  hash: string;
}

export type RandomSource = (byteLength: number) => Uint8Array;

function checksumOf(body: string): string {
  return encodeBase62Int(BigInt(crc32(body)), CHECKSUM_WIDTH);
}

export function generateApiKey(env: ApiKeyEnv = 'live', random: RandomSource = randomBytes): GeneratedApiKey {
  const bytes = random(API_KEY_SECRET_BYTES);
  if (bytes.length !== API_KEY_SECRET_BYTES) throw new RangeError('random source returned the wrong length');
  const body = `tg_${env}_${encodeBase62(bytes, SECRET_WIDTH)}`;
  const key = body + checksumOf(body);
  return describeApiKey(key);
}

export function describeApiKey(key: string): GeneratedApiKey {
  return {
    key,
    prefix: key.slice(0, API_KEY_DISPLAY_PREFIX_LENGTH),
    lastFour: key.slice(-4),
    hash: hashApiKey(key),
  };
}

export type ApiKeyParseResult =
  | { ok: true; env: ApiKeyEnv; prefix: string }
  | { ok: false; reason: 'format' | 'checksum' };

/** Cheap structural check: length, alphabet, env and checksum. No I/O, no allocation beyond the match. */
export function parseApiKey(candidate: string): ApiKeyParseResult {
  if (candidate.length !== API_KEY_LENGTH) return { ok: false, reason: 'format' };
  const match = KEY_PATTERN.exec(candidate);
  if (match === null) return { ok: false, reason: 'format' };
  const rest = match[2]!;
  const body = candidate.slice(0, candidate.length - CHECKSUM_WIDTH);
  if (!isBase62(rest) || checksumOf(body) !== candidate.slice(-CHECKSUM_WIDTH)) {
    return { ok: false, reason: 'checksum' };
  }
  return { ok: true, env: match[1] as ApiKeyEnv, prefix: candidate.slice(0, API_KEY_DISPLAY_PREFIX_LENGTH) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
