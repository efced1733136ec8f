import type { ValidApi } from './api-config.ts';
import { joinConfigPaths } from './config-path.ts';
import type { ConfigIssue } from './config-problem.ts';

interface Claim {
  apiId: string;
  apiSlug: string;
  routeId: string;
  routeName: string;
  /** null: every method. */
  methods: Set<string> | null;
}

const intersects = (a: Set<string> | null, b: Set<string> | null): boolean =>
  a === null || b === null || [...a].some((m) => b.has(m));

/**
 * Which routes are taken, for the overlap rule: two routes overlap when they answer on the
 * same host (an API without hosts answers on any host: '' here), match the same full path
 * (base path + route path, letter case aside) the same way (prefix or exact) and share a method. The gateway could
 * not tell them apart, so the later one is refused. Hosts and any-host routes do not overlap:
 * the gateway prefers the API bound to the request's host.
 */
export class RouteClaims {
  private readonly claims = new Map<string, Claim[]>();

  /** Claims every route of `api` when none overlaps (with another API or within it); else claims nothing. */
  tryClaim(api: ValidApi): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const pending = new Map<string, Claim[]>();
    const hosts = api.hosts.length === 0 ? [''] : api.hosts;
    for (const route of api.routes) {
      // The gateway matches route paths ignoring letter case: /Heavy and /heavy are one route.
      const matchKey = joinConfigPaths(api.basePath, route.path).toLowerCase();
      const claim: Claim = {
        apiId: api.id,
        apiSlug: api.slug,
        routeId: route.id,
        routeName: route.name,
        methods: route.methods.length === 0 ? null : new Set(route.methods),
      };
      for (const host of hosts) {
        const key = `${host}\n${route.pathMatch}\n${matchKey}`;
        const other =
          this.claims.get(key)?.find((c) => intersects(c.methods, claim.methods)) ??
          pending.get(key)?.find((c) => intersects(c.methods, claim.methods));
        if (other !== undefined) {
          const whose = other.apiId === api.id ? '' : ` of API "${other.apiSlug}"`;
          issues.push({
            code: 'overlap',
            path: ['routes', route.id, 'path'],
            message: `route "${route.name}" overlaps route "${other.routeName}"${whose} on ${host || 'any host'} ${joinConfigPaths(api.basePath, route.path)} (same path, ${route.pathMatch} match and a common method)`,
          });
          break;
        }
        const list = pending.get(key);
        if (list === undefined) pending.set(key, [claim]);
        else list.push(claim);
      }
    }
    if (issues.length > 0) return issues;
    for (const [key, claims] of pending) {
      const list = this.claims.get(key);
      if (list === undefined) this.claims.set(key, claims);
      else list.push(...claims);
    }
    return issues;
  }
}
