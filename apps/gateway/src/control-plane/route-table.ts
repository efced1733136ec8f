/**
 * The routes of one host, and the rule that picks the route of a request path. Paths here are
 * canonical (core's canonicalRequestPath) and lower-cased: route literals match regardless of
 * letter case, because many upstreams are case-insensitive (`/echo/HEAVY` must be priced as
 * `/echo/heavy`). One trailing slash is ignored.
 *
 * Most specific first: an exact route at the request's path, then the longest prefix route on
 * a segment boundary; at each path the first route allowing the method wins, else the search
 * continues with shorter prefixes (so `DELETE /heavy` falls back to the catch-all when `/heavy`
 * serves GET and POST only). An exact route never matches a longer path.
 */

export interface MatchableRoute {
  /** The route's canonical path (base path + route path) lower-cased, without trailing slash. */
  readonly matchKey: string;
  readonly exact: boolean;
  /** null: every method. */
  readonly methods: Set<string> | null;
}

export class RouteTable<R extends MatchableRoute> {
  private readonly prefixes = new Map<string, R[]>();
  private readonly exacts = new Map<string, R[]>();
  private maxPrefixLength = 0;

  add(route: R): void {
    const map = route.exact ? this.exacts : this.prefixes;
    const list = map.get(route.matchKey);
    if (list === undefined) map.set(route.matchKey, [route]);
    else list.push(route);
    if (!route.exact && route.matchKey.length > this.maxPrefixLength) {
      this.maxPrefixLength = route.matchKey.length;
    }
  }

  /** `lowerPath`: the canonical request path, lower-cased. */
  match(lowerPath: string, method: string): R | null {
    let p = lowerPath;
    if (p.length > 1 && p.charCodeAt(p.length - 1) === 47) p = p.slice(0, -1);
    if (this.exacts.size > 0) {
      const r = firstAllowing(this.exacts.get(p), method);
      if (r !== null) return r;
    }
    if (p.length > this.maxPrefixLength) {
      const cut = p.lastIndexOf('/', this.maxPrefixLength);
      p = cut <= 0 ? '/' : p.slice(0, cut);
    }
    for (;;) {
      const r = firstAllowing(this.prefixes.get(p), method);
      if (r !== null) return r;
      if (p.length <= 1) return null;
      const cut = p.lastIndexOf('/');
      p = cut <= 0 ? '/' : p.slice(0, cut);
    }
  }
}

function firstAllowing<R extends MatchableRoute>(list: R[] | undefined, method: string): R | null {
  if (list === undefined) return null;
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!;
    if (r.methods === null || r.methods.has(method)) return r;
  }
  return null;
}
