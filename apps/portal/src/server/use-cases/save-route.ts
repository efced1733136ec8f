import { z } from '@tollgate/config';
import { RouteConfigSchema } from '@tollgate/core';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { changeConfig } from '../config-change.ts';
import { notFound, parseInput } from '../errors.ts';
import { boolField, formList, formNumber, formNumberOr, uuid } from '../schemas.ts';

const route = RouteConfigSchema.shape;

/**
 * A route with core's rules (RouteConfigSchema): canonical path, methods the gateway proxies,
 * cost, timeout. `pathMatch` left out: `exact` for a public route (public for its own path
 * only), `prefix` otherwise (the path and every path below it).
 */
export const SaveRouteSchema = z.object({
  id: uuid.optional(),
  apiId: uuid,
  name: route.name,
  methods: formList(route.methods),
  path: route.path,
  cost: formNumber(route.cost),
  timeoutMs: formNumberOr(route.timeoutMs, 30_000),
  public: boolField,
  pathMatch: z.preprocess((v) => (v === '' || v === null ? undefined : v), route.pathMatch.optional()),
});

/** The match a route gets when none is given. */
export function defaultPathMatch(isPublic: boolean): 'prefix' | 'exact' {
  return isPublic ? 'exact' : 'prefix';
}

/** Creates or updates a route (path, match, methods, cost per request, timeout). */
export async function saveRoute(actor: Actor, input: unknown): Promise<{ id: string }> {
  assertRole(actor, ['admin']);
  const { id, apiId, pathMatch, ...fields } = parseInput(SaveRouteSchema, input);
  const data = { ...fields, pathMatch: pathMatch ?? defaultPathMatch(fields.public) };
  return changeConfig(actor, async (tx) => {
    const api = await tx.api.findUnique({ where: { id: apiId }, select: { id: true } });
    if (!api) throw notFound('API');
    if (id) {
      const before = await tx.route.findUnique({ where: { id } });
      if (!before || before.apiId !== apiId) throw notFound('Route');
      const after = await tx.route.update({ where: { id }, data });
      await writeAudit(tx, actor, 'route.update', { type: 'route', id }, before, after);
      return { id };
    }
    const created = await tx.route.create({ data: { ...data, apiId } });
    await writeAudit(tx, actor, 'route.create', { type: 'route', id: created.id }, undefined, created);
    return { id: created.id };
  });
}
