import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalRequestPath, isCanonicalRequestPath } from '../request-path.ts';
import { configPathProblem, isCanonicalConfigPath, joinConfigPaths } from './config-path.ts';

/**
 * The configuration validator and the gateway's request-path canonicalizer are two functions:
 * every path an admin may save must be a fixed point of the canonicalizer, or the route could
 * never match what the gateway matches (and a cheaper route would price its requests).
 */
const segmentChar = fc.constantFrom(
  ...'abcxyzABCXYZ0189-._~'.split(''),
  // characters the validator must refuse, so the property also sees them
  ..."%;:@!$&'()*+,=/{}[] \\".split(''),
);
const anyPath = fc
  .array(fc.string({ unit: segmentChar, minLength: 0, maxLength: 6 }), { minLength: 0, maxLength: 5 })
  .map((segments) => `/${segments.join('/')}`);

describe('config.paths.canonical', () => {
  it('every path the validator accepts is already canonical for the gateway, alone and joined', () => {
    let accepted = 0;
    fc.assert(
      fc.property(anyPath, anyPath, (base, route) => {
        if (!isCanonicalConfigPath(base) || !isCanonicalConfigPath(route)) return;
        accepted++;
        expect(canonicalRequestPath(base)).toBe(base);
        expect(isCanonicalRequestPath(route)).toBe(true);
        const joined = joinConfigPaths(base, route);
        expect(canonicalRequestPath(joined)).toBe(joined);
      }),
      { numRuns: 3000 },
    );
    // The generator reaches accepted paths often enough for the property to mean something.
    expect(accepted).toBeGreaterThan(100);
  });

  it('a path the canonicalizer would change is refused by the validator', () => {
    fc.assert(
      fc.property(anyPath, (path) => {
        const c = canonicalRequestPath(path);
        if (typeof c === 'string' && c === path) return;
        expect(configPathProblem(path)).not.toBeNull();
      }),
      { numRuns: 3000 },
    );
  });
});
