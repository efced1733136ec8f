import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalRequestPath,
  isCanonicalRequestPath,
  isPathRefusal,
  PATH_REFUSALS,
  type PathRefusalCode,
} from './request-path.ts';

const refusedWith = (path: string): PathRefusalCode | null => {
  const r = canonicalRequestPath(path);
  return isPathRefusal(r) ? r.code : null;
};

const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
const PLAIN = `${UNRESERVED}!$&'()*+,=:@`;

/** Any string of printable ASCII and a few awkward characters: what a client may send. */
const rawPath = fc
  .array(
    fc.oneof(
      { arbitrary: fc.constantFrom(...PLAIN.split('')), weight: 10 },
      {
        arbitrary: fc.constantFrom('/', '//', '.', '..', '%2e', '%2E', '%2f', '%41', '%7e', '%c3', '%C3'),
        weight: 4,
      },
      fc.constantFrom(
        ';',
        '%3b',
        '\\',
        '%5C',
        '%00',
        '%1f',
        '%',
        '%4',
        '%zz',
        '#',
        ' ',
        '{',
        'é',
        '\u0000',
        '\u007f',
      ),
    ),
    { maxLength: 24 },
  )
  .map((parts) => `/${parts.join('')}`);

/** Segments that are valid and canonical on their own. */
const segment = fc
  .string({ unit: fc.constantFrom(...PLAIN.split('')), minLength: 1, maxLength: 8 })
  .filter((s) => s !== '.' && s !== '..');
const canonicalPath = fc
  .tuple(fc.array(segment, { maxLength: 6 }), fc.boolean())
  .map(([segs, slash]) => `/${segs.join('/')}${slash && segs.length > 0 ? '/' : ''}`);

describe('canonicalRequestPath', () => {
  it('decodes escapes of unreserved characters and upper-cases the others', () => {
    expect(canonicalRequestPath('/echo/%68eavy')).toBe('/echo/heavy');
    expect(canonicalRequestPath('/echo/%48%45%41%56%59')).toBe('/echo/HEAVY');
    expect(canonicalRequestPath('/a%7e%2D%5f')).toBe('/a~-_');
    expect(canonicalRequestPath('/files/%c3%a9')).toBe('/files/%C3%A9');
    expect(canonicalRequestPath('/q/%20%25%3a')).toBe('/q/%20%25%3A');
    expect(canonicalRequestPath('/%2B')).toBe('/%2B');
  });

  it('collapses empty segments and keeps one trailing slash', () => {
    expect(canonicalRequestPath('//echo//heavy')).toBe('/echo/heavy');
    expect(canonicalRequestPath('/echo///')).toBe('/echo/');
    expect(canonicalRequestPath('//')).toBe('/');
    expect(canonicalRequestPath('/')).toBe('/');
    expect(canonicalRequestPath('/echo/heavy/')).toBe('/echo/heavy/');
  });

  it('keeps letter case and sub-delimiters', () => {
    expect(canonicalRequestPath('/Echo/HEAVY')).toBe('/Echo/HEAVY');
    expect(canonicalRequestPath("/a!$&'()*+,=:@b")).toBe("/a!$&'()*+,=:@b");
  });

  it.each<[string, PathRefusalCode]>([
    ['', 'not_absolute'],
    ['*', 'not_absolute'],
    ['echo/x', 'not_absolute'],
    ['http://evil.example/x', 'not_absolute'],
    ['/a%', 'bad_escape'],
    ['/a%4', 'bad_escape'],
    ['/a%zz', 'bad_escape'],
    ['/a%g0b', 'bad_escape'],
    ['/a%2fb', 'encoded_slash'],
    ['/a%2Fb', 'encoded_slash'],
    ['/a\\b', 'backslash'],
    ['/a%5cb', 'backslash'],
    ['/a%00', 'control_character'],
    ['/a%0A', 'control_character'],
    ['/a%7F', 'control_character'],
    ['/a\u0001', 'control_character'],
    ['/heavy;x', 'path_parameter'],
    ['/echo;v=1/heavy', 'path_parameter'],
    ['/heavy%3bx', 'path_parameter'],
    ['/.', 'dot_segment'],
    ['/..', 'dot_segment'],
    ['/a/./b', 'dot_segment'],
    ['/a/../b', 'dot_segment'],
    ['/a/%2e%2E/b', 'dot_segment'],
    ['/a/.%2e', 'dot_segment'],
    ['/a/%2e/', 'dot_segment'],
    ['/a//..//b', 'dot_segment'],
    ['/a b', 'invalid_character'],
    ['/a#b', 'invalid_character'],
    ['/a{id}', 'invalid_character'],
    ['/a"b', 'invalid_character'],
    ['/a|b', 'invalid_character'],
    ['/é', 'invalid_character'],
    ['/a?b', 'invalid_character'],
  ])('refuses %j (%s)', (path, code) => {
    expect(refusedWith(path)).toBe(code);
    expect(PATH_REFUSALS[code].detail.length).toBeGreaterThan(10);
  });

  it('segments of three or more dots are ordinary', () => {
    expect(canonicalRequestPath('/a/.../b')).toBe('/a/.../b');
    expect(canonicalRequestPath('/a/.b/b.')).toBe('/a/.b/b.');
  });

  it('is idempotent: a canonical result is its own canonical form', () => {
    fc.assert(
      fc.property(rawPath, (raw) => {
        const once = canonicalRequestPath(raw);
        if (isPathRefusal(once)) return;
        expect(canonicalRequestPath(once)).toBe(once);
        expect(isCanonicalRequestPath(once)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('never yields dot segments, empty segments, lower-case escapes, escaped unreserved characters or refused characters', () => {
    fc.assert(
      fc.property(rawPath, (raw) => {
        const c = canonicalRequestPath(raw);
        if (isPathRefusal(c)) return;
        expect(c.startsWith('/')).toBe(true);
        const segments = c.slice(1).split('/');
        segments.forEach((s, i) => {
          expect(s === '' && i < segments.length - 1, c).toBe(false);
          expect(s === '.' || s === '..', c).toBe(false);
        });
        expect(c).toMatch(/^[A-Za-z0-9\-._~!$&'()*+,=:@/%]*$/);
        for (const m of c.matchAll(/%(..)/g)) {
          expect(m[1], c).toMatch(/^[0-9A-F]{2}$/);
          const byte = Number.parseInt(m[1]!, 16);
          expect(UNRESERVED.includes(String.fromCharCode(byte)), c).toBe(false);
          expect([0x2f, 0x5c, 0x3b].includes(byte) || byte < 0x20 || byte === 0x7f, c).toBe(false);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('decoding escapes and collapsing slashes never changes what a path means: the decoded forms agree', () => {
    // decodeURIComponent of each segment is what an RFC 3986 upstream sees.
    const meaning = (p: string) =>
      p
        .split('/')
        .filter((s) => s !== '')
        .map((s) => decodeURIComponent(s))
        .join('\n');
    fc.assert(
      fc.property(rawPath, (raw) => {
        const c = canonicalRequestPath(raw);
        if (isPathRefusal(c)) return;
        let rawMeaning: string;
        try {
          rawMeaning = meaning(raw);
        } catch {
          return; // not UTF-8 once decoded: nothing to compare
        }
        expect(meaning(c)).toBe(rawMeaning);
      }),
      { numRuns: 5000 },
    );
  });

  it('every alias of a canonical path (escaped unreserved characters, lower-case hex, doubled slashes) has that canonical form', () => {
    // Each character of a canonical path: kept, or (a slash) doubled, or (unreserved) escaped.
    const alias = fc
      .tuple(canonicalPath, fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 64, maxLength: 64 }))
      .map(([p, how]) => {
        const a = [...p]
          .map((ch, i) => {
            const pick = how[i % how.length]!;
            if (pick === 0) return ch;
            if (ch === '/') return '//';
            if (!UNRESERVED.includes(ch)) return ch;
            const hex = ch.charCodeAt(0).toString(16);
            return `%${pick === 1 ? hex : hex.toUpperCase()}`;
          })
          .join('');
        return [p, a] as const;
      });
    fc.assert(
      fc.property(alias, ([p, a]) => {
        expect(canonicalRequestPath(a)).toBe(p);
      }),
      { numRuns: 3000 },
    );
  });

  it('a canonical path is returned as the same string (the fast path)', () => {
    fc.assert(
      fc.property(canonicalPath, (p) => {
        expect(isCanonicalRequestPath(p)).toBe(true);
        expect(Object.is(canonicalRequestPath(p), p)).toBe(true);
      }),
    );
  });
});
