import type { z } from 'zod';

/** One reason a configuration row is refused; `path` names the field (route and target by id). */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
  /** overlap: the row conflicts with another row (routes on the same host, path and method). */
  code?: 'overlap';
}

/**
 * A row of the provider configuration that cannot be applied as it is. The gateway quarantines
 * it (serving its last good version when it has one: `fallback`) and applies everything else.
 */
export interface ConfigProblem {
  kind: 'api' | 'plan';
  id: string;
  /** Slug, for people. */
  name: string;
  issues: ConfigIssue[];
  /** True when the gateway serves the row's last good version instead; false: not served at all. */
  fallback: boolean;
}

/** zod issues of a row, with array indexes of routes/targets/entitlements replaced by the item's id. */
export function rowIssues(
  error: z.ZodError,
  ids: Partial<Record<string, (string | undefined)[]>> = {},
): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    const list = typeof path[0] === 'string' ? ids[path[0]] : undefined;
    if (list !== undefined && typeof path[1] === 'number') path[1] = list[path[1]] ?? path[1];
    return { path, message: issue.message };
  });
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`;
}
