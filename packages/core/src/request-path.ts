/**
 * The one canonical form of a request path: what the gateway matches, prices and forwards.
 *
 * - Percent-escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded (`%68eavy` is
 *   `heavy`); every other escape is kept with upper-case hex digits (`%c3%a9` is `%C3%A9`).
 * - Empty segments collapse (`/a//b` is `/a/b`, `//` is `/`); one trailing slash is kept.
 * - Refused (never forwarded): a path not starting with `/`, a malformed escape, `/` or `\`
 *   encoded, a backslash, control characters (raw or encoded), `;` (raw or encoded: Tomcat,
 *   Jetty and Spring strip path parameters, so `/heavy;x` is served as `/heavy`), `.` and `..`
 *   segments (raw or encoded), and characters RFC 3986 does not allow in a path (`"<>[]^`{|}#`,
 *   space, non-ASCII).
 *
 * Letter case is kept: matching route literals case-insensitively is the route table's rule.
 * A path that is already canonical is returned as the same string, with no allocation.
 */

export type PathRefusalCode =
  | 'not_absolute'
  | 'bad_escape'
  | 'encoded_slash'
  | 'backslash'
  | 'control_character'
  | 'path_parameter'
  | 'dot_segment'
  | 'invalid_character';

export interface PathRefusal {
  readonly code: PathRefusalCode;
  readonly detail: string;
}

const refusal = (code: PathRefusalCode, detail: string): PathRefusal => Object.freeze({ code, detail });

export const PATH_REFUSALS: Readonly<Record<PathRefusalCode, PathRefusal>> = Object.freeze({
  not_absolute: refusal('not_absolute', 'The request path must start with "/".'),
  bad_escape: refusal('bad_escape', 'The request path has a malformed percent-escape.'),
  encoded_slash: refusal('encoded_slash', 'The request path has an encoded "/" (%2F).'),
  backslash: refusal('backslash', 'The request path has a backslash (raw or encoded).'),
  control_character: refusal('control_character', 'The request path has a control character.'),
  path_parameter: refusal('path_parameter', 'The request path has a ";" (path parameters are not accepted).'),
  dot_segment: refusal('dot_segment', 'The request path has a "." or ".." segment.'),
  invalid_character: refusal(
    'invalid_character',
    'The request path has a character not allowed in a URL path.',
  ),
});

const SLASH = 0x2f;
const DOT = 0x2e;

// Character classes of ASCII code points in a raw path.
const INVALID = 0;
const PLAIN = 1; // unreserved, sub-delims except ';', ':' and '@': kept as is
const PERCENT = 2;
const SEMICOLON = 3;
const BACKSLASH = 4;
const CONTROL = 5;

const CLASS = new Uint8Array(128);
const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 0x20; c++) CLASS[c] = CONTROL;
CLASS[0x7f] = CONTROL;
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') {
  CLASS[ch.charCodeAt(0)] = PLAIN;
  UNRESERVED[ch.charCodeAt(0)] = 1;
}
for (const ch of "!$&'()*+,=:@") CLASS[ch.charCodeAt(0)] = PLAIN;
CLASS[0x25] = PERCENT;
CLASS[0x3b] = SEMICOLON;
CLASS[0x5c] = BACKSLASH;

const REFUSAL_BY_CLASS: PathRefusal[] = [
  PATH_REFUSALS.invalid_character,
  PATH_REFUSALS.invalid_character,
  PATH_REFUSALS.bad_escape,
  PATH_REFUSALS.path_parameter,
  PATH_REFUSALS.backslash,
  PATH_REFUSALS.control_character,
];

const HEX_DIGITS = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** The refusal of a percent-decoded byte that may not appear in a path even encoded, or null. */
function refusedByte(b: number): PathRefusal | null {
  if (b === SLASH) return PATH_REFUSALS.encoded_slash;
  if (b === 0x5c) return PATH_REFUSALS.backslash;
  if (b === 0x3b) return PATH_REFUSALS.path_parameter;
  if (b < 0x20 || b === 0x7f) return PATH_REFUSALS.control_character;
  return null;
}

/**
 * The canonical form of `path` (the request-target up to, not including, `?`), or why it is
 * refused. One pass; returns `path` itself when nothing needs changing.
 */
export function canonicalRequestPath(path: string): string | PathRefusal {
  const n = path.length;
  if (n === 0 || path.charCodeAt(0) !== SLASH) return PATH_REFUSALS.not_absolute;
  // Until the first change the output is path[0, i); afterwards it is out + path[copyFrom, i).
  let out = '';
  let changed = false;
  let copyFrom = 0;
  // The current segment, as decoded: its length and how many of its characters are dots.
  let segLength = 0;
  let segDots = 0;
  for (let i = 1; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === SLASH) {
      if (segLength === 0) {
        // An empty segment: drop this slash.
        if (changed) out += path.slice(copyFrom, i);
        else out = path.slice(0, i);
        changed = true;
        copyFrom = i + 1;
        continue;
      }
      if (segDots === segLength && segLength <= 2) return PATH_REFUSALS.dot_segment;
      segLength = 0;
      segDots = 0;
      continue;
    }
    const cls = c < 128 ? CLASS[c]! : INVALID;
    if (cls === PLAIN) {
      segLength++;
      if (c === DOT) segDots++;
      continue;
    }
    if (cls !== PERCENT) return REFUSAL_BY_CLASS[cls]!;
    if (i + 2 >= n) return PATH_REFUSALS.bad_escape;
    const hiChar = path.charCodeAt(i + 1);
    const loChar = path.charCodeAt(i + 2);
    const hi = hexValue(hiChar);
    const lo = hexValue(loChar);
    if (hi < 0 || lo < 0) return PATH_REFUSALS.bad_escape;
    const b = hi * 16 + lo;
    segLength++;
    if (b < 128 && UNRESERVED[b] === 1) {
      if (b === DOT) segDots++;
      out = changed ? out + path.slice(copyFrom, i) : path.slice(0, i);
      out += String.fromCharCode(b);
      changed = true;
      copyFrom = i + 3;
    } else {
      const refused = refusedByte(b);
      if (refused !== null) return refused;
      if (hiChar >= 0x61 || loChar >= 0x61) {
        // Lower-case hex digits: upper-case them.
        out = changed ? out + path.slice(copyFrom, i) : path.slice(0, i);
        out += `%${HEX_DIGITS[hi]}${HEX_DIGITS[lo]}`;
        changed = true;
        copyFrom = i + 3;
      }
    }
    i += 2;
  }
  if (segLength > 0 && segDots === segLength && segLength <= 2) return PATH_REFUSALS.dot_segment;
  return changed ? out + path.slice(copyFrom) : path;
}

/** Whether `path` is already in canonical form (for validators of configured route paths). */
export function isCanonicalRequestPath(path: string): boolean {
  return canonicalRequestPath(path) === path;
}

export function isPathRefusal(result: string | PathRefusal): result is PathRefusal {
  return typeof result !== 'string';
}
