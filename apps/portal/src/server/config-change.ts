import {
  type ConfigIssue,
  type ConfigProblem,
  formatIssue,
  type ProviderConfig,
  validateProviderConfig,
} from '@tollgate/core';
import { describeConfigChange, loadProviderConfig, lockConfig, type Prisma } from '@tollgate/db/client';
import type { Actor } from './actor.ts';
import { deps } from './deps.ts';
import { TollgateError } from './errors.ts';

type Tx = Prisma.TransactionClient;

export interface ConfigChangeOptions {
  /** Input field names for issue fields where they differ (an API's route overlap is its basePath's doing). */
  fieldAliases?: Record<string, string>;
  /** The version this change restores (rollbacks), for the version row. */
  restoredFrom?: number;
}

/** How the version row and logs name an actor. */
export function actorLabel(actor: Actor): string {
  return actor.kind === 'token' ? `admin_token:${actor.id}` : `user:${actor.email ?? actor.id}`;
}

/** Problems of the configuration as the gateway's validator sees it (no last good versions: a gateway booting now). */
export function configProblems(config: ProviderConfig): ConfigProblem[] {
  return validateProviderConfig(config).problems;
}

const issueKey = (p: ConfigProblem, i: ConfigIssue) => `${p.kind}:${p.id}:${formatIssue(i)}`;

/** The input field an issue is about: the first name after `routes.<id>` / `targets.<id>`. */
function fieldOf(issue: ConfigIssue, aliases: Record<string, string>): string {
  const path = [...issue.path];
  if ((path[0] === 'routes' || path[0] === 'targets') && path.length > 2) path.splice(0, 2);
  const head = path[0];
  const field = head === 'entitlements' ? 'apiIds' : typeof head === 'string' ? head : '_';
  return aliases[field] ?? field;
}

/**
 * Every write to the provider configuration: in one transaction holding the configuration lock,
 * the change runs, and the resulting configuration must pass the gateway's own validator
 * (core's validateProviderConfig) with no problem that was not there before; otherwise the
 * transaction rolls back and the caller gets a 400 (the row is invalid) or a 409 (it overlaps
 * another), naming the field. So whatever this accepts, the gateway applies; rows broken before
 * (written past the portal) neither block unrelated edits nor get worse. The version row the
 * trigger records at commit names the actor.
 */
export async function changeConfig<T>(
  actor: Actor,
  change: (tx: Tx) => Promise<T>,
  opts: ConfigChangeOptions = {},
): Promise<T> {
  return deps().prisma.$transaction(async (tx) => {
    await lockConfig(tx);
    const old = await loadProviderConfig(tx);
    const before = new Set(configProblems(old).flatMap((p) => p.issues.map((i) => issueKey(p, i))));
    await describeConfigChange(tx, {
      actor: actorLabel(actor),
      ...(opts.restoredFrom === undefined ? {} : { restoredFrom: opts.restoredFrom }),
    });
    const result = await change(tx);
    // Unchanged APIs (and routes) first, as the gateway orders APIs: an overlap is the changed row's.
    const now = await loadProviderConfig(tx);
    const ordered = { apis: changedLast(old.apis, now.apis), plans: now.plans };
    const introduced = configProblems(ordered).flatMap((p) =>
      p.issues.filter((i) => !before.has(issueKey(p, i))).map((issue) => ({ problem: p, issue })),
    );
    if (introduced.length > 0) throw refusal(introduced, opts.fieldAliases ?? {});
    return result;
  });
}

type Rows = Awaited<ReturnType<typeof loadProviderConfig>>['apis'];

function changedLast(old: Rows, now: Rows): Rows {
  const was = new Map(old.map((a) => [a.id, a]));
  const unchanged = now.filter((a) => JSON.stringify(was.get(a.id)) === JSON.stringify(a));
  const changed = now
    .filter((a) => JSON.stringify(was.get(a.id)) !== JSON.stringify(a))
    .map((a) => {
      const oldRoutes = new Set((was.get(a.id)?.routes ?? []).map((r) => JSON.stringify(r)));
      const kept = (r: (typeof a.routes)[number]) => oldRoutes.has(JSON.stringify(r));
      return { ...a, routes: [...a.routes.filter(kept), ...a.routes.filter((r) => !kept(r))] };
    });
  return [...unchanged, ...changed];
}

function refusal(
  introduced: { problem: ConfigProblem; issue: ConfigIssue }[],
  aliases: Record<string, string>,
): TollgateError {
  const fieldErrors: Record<string, string> = {};
  for (const { issue } of introduced) fieldErrors[fieldOf(issue, aliases)] ??= issue.message;
  const overlap = introduced.some(({ issue }) => issue.code === 'overlap');
  const first = introduced[0]!;
  const where = `${first.problem.kind} "${first.problem.name}"`;
  return new TollgateError(
    overlap ? 'conflict' : 'invalid',
    overlap ? 'ROUTE_OVERLAP' : 'INVALID_CONFIG',
    `${fieldOf(first.issue, aliases)}: ${first.issue.message} (${where}; the gateway could not serve it)`,
    {
      details: {
        fieldErrors,
        problems: introduced.map(
          ({ problem, issue }) => `${problem.kind} ${problem.name}: ${formatIssue(issue)}`,
        ),
      },
    },
  );
}
