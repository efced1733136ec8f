import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The one service-token check (billing, metering, any other service-to-service bearer token).
 * Both sides are hashed to fixed-length SHA-256 digests before the constant-time comparison,
 * so neither the token's content nor its length shows in the timing: comparing the raw bytes
 * needs an early length check, and that check is exactly the leak.
 */
const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

const BEARER = /^Bearer ([^\s].*)$/i;

/** A matcher for `Authorization` header values against one expected token (digested once). */
export function serviceTokenMatcher(token: string): (authorization: string | undefined) => boolean {
  if (token.length === 0) throw new RangeError('the service token must not be empty');
  const expected = digest(token);
  return (authorization) => {
    const match = authorization === undefined ? null : BEARER.exec(authorization);
    // A missing or malformed header is still compared (against a digest that cannot match), so
    // every refusal costs the same.
    const given = digest(match === null ? '' : match[1]!);
    return timingSafeEqual(given, expected) && match !== null;
  };
}
