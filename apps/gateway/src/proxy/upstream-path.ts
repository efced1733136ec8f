import type { CompiledRoute } from '../control-plane/compile-snapshot.ts';

/**
 * The path (and query) sent upstream for a request matched to `route`: what was priced, in one
 * spelling. The matched part is spelled as the route spells it (route literals match
 * case-insensitively, so `/ECHO/Heavy/x` goes up as `/echo/heavy/x` for route `/echo/heavy`),
 * the rest as canonicalized; an exact route forwards its own path (a trailing slash the client
 * added is not passed on). The API's base path is cut off when it strips it. `canonicalPath`
 * comes from core's canonicalRequestPath; `query` is '' or starts with '?' (passed as sent).
 */
export function upstreamPathFor(route: CompiledRoute, canonicalPath: string, query: string): string {
  const routePath = route.path;
  let forwarded: string;
  if (route.exact) forwarded = routePath;
  else if (routePath.length === 1 || canonicalPath.startsWith(routePath)) forwarded = canonicalPath;
  else forwarded = routePath + canonicalPath.slice(routePath.length);
  const api = route.api;
  let rest = api.stripBasePath ? forwarded.slice(api.basePath.length) : forwarded;
  if (rest === '' || rest.charCodeAt(0) !== 47) rest = `/${rest}`;
  return query === '' ? rest : rest + query;
}
