import { z } from 'zod';

/**
 * The one rule for paths in the configuration (API base paths, route paths, health-check
 * paths, the path of an upstream URL). A configured path is already canonical: '/' or
 * '/'-separated segments of unreserved characters only (RFC 3986 §2.3: letters, digits and
 * `-._~`). Those are the characters whose percent-escapes the gateway's request-path
 * canonicalizer decodes (core's canonicalRequestPath), so no request spelling can reach a
 * configured route other than through its canonical form; a sub-delim such as `!` or `:` would
 * have an alias (`%21`) the canonicalizer keeps, matching a cheaper parent route instead.
 * Refused, each with its own message: templates and wildcards (`{id}`, `:id`, `*`: matching is
 * literal, a prefix route already covers every path below it), percent-encoding, `;`
 * parameters, empty segments (`//`), dot segments, a query or fragment, and any other
 * character (non-ASCII included). The gateway matches route paths ignoring letter case, so
 * routes differing only in case overlap (RouteClaims).
 */

/** Characters allowed in a segment besides ALPHA and DIGIT: the unreserved punctuation. */
export const CONFIG_PATH_SEGMENT_PUNCTUATION = '-._~';
const SEGMENT = /^[A-Za-z0-9\-._~]+$/;
/** The same rule as a plain regular expression (stated in the OpenAPI documents). */
export const CONFIG_PATH_PATTERN = '^/([A-Za-z0-9\\-._~]+(/[A-Za-z0-9\\-._~]+)*/?)?$';
export const CONFIG_PATH_MAX_LENGTH = 256;

/** Why `path` is not a canonical configuration path, or null when it is. */
export function configPathProblem(path: string): string | null {
  if (!path.startsWith('/')) return 'must start with /';
  if (/[?#]/.test(path)) return 'a path has no query string or fragment (? and # are not allowed)';
  if (/[{}]/.test(path))
    return 'path templates such as /users/{id} are not supported: a prefix route /users matches /users/<anything>';
  if (path.includes('*')) return 'wildcards are not supported: a prefix route matches every path below it';
  if (path.includes('%')) return 'percent-encoding is not allowed: write the characters themselves';
  if (path.includes(';')) return "';' (path parameters) is not allowed";
  if (path === '/') return null;
  const segments = path.slice(1).split('/');
  // One trailing slash is tolerated (and removed where a path is normalized).
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  for (const segment of segments) {
    if (segment === '') return "empty segments ('//') are not allowed";
    if (segment === '.' || segment === '..') return "'.' and '..' segments are not allowed";
    if (segment.includes(':'))
      return segment.startsWith(':')
        ? 'path parameters such as /users/:id are not supported: a prefix route /users matches /users/<anything>'
        : `only letters, digits and ${CONFIG_PATH_SEGMENT_PUNCTUATION} are allowed in a path segment (got ${JSON.stringify(segment)})`;
    if (!SEGMENT.test(segment))
      return `only letters, digits and ${CONFIG_PATH_SEGMENT_PUNCTUATION} are allowed in a path segment (got ${JSON.stringify(segment)})`;
  }
  return null;
}

export function isCanonicalConfigPath(path: string): boolean {
  return configPathProblem(path) === null;
}

/** Without a trailing slash (except '/'). */
export function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** The path a route matches: base path + route path, one '/' between, no trailing slash. */
export function joinConfigPaths(basePath: string, routePath: string): string {
  const base = withoutTrailingSlash(basePath);
  const rest = withoutTrailingSlash(routePath);
  if (base === '/') return rest;
  return rest === '/' ? base : base + rest;
}

const checked = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .superRefine((path, ctx) => {
      const problem = configPathProblem(path);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    // The same rule as a pattern, for the JSON Schema of the OpenAPI documents.
    .meta({ pattern: CONFIG_PATH_PATTERN });

/** A base path or route path: canonical, stored without a trailing slash ('/' for the root). */
export const ConfigPathSchema = checked(CONFIG_PATH_MAX_LENGTH).transform(withoutTrailingSlash);

/** A health-check path: the same rule; a trailing slash is kept (the upstream may care). */
export const HealthCheckPathSchema = checked(200);
