import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { boolField, intField, stringList, trimmed, uuid } from '../schemas.ts';

export const SaveRouteSchema = z.object({
  id: uuid.optional(),
  apiId: uuid,
  name: trimmed(100),
  methods: stringList(
    z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'], { message: 'HTTP methods' }),
  ),
  path: z
    .string()
    .trim()
    .regex(/^\/[A-Za-z0-9._~\-/:{}*]*$/, 'a path starting with /'),
  cost: intField(0, 1_000_000),
  timeoutMs: intField(100, 300_000).default(30_000),
  public: boolField,
});

/** Creates or updates a route (path, methods, cost per request, timeout). */
export async function saveRoute(actor: Actor, input: unknown): Promise<{ id: string }> {
  assertRole(actor, ['admin']);
  const { id, apiId, ...data } = parseInput(SaveRouteSchema, input);
  const prisma = deps().prisma;
  return prisma.$transaction(async (tx) => {
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
