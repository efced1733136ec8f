import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { changeConfig } from '../config-change.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';

export const DeleteRouteSchema = z.object({ id: uuid });

export async function deleteRoute(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id } = parseInput(DeleteRouteSchema, input);
  await changeConfig(actor, async (tx) => {
    const before = await tx.route.findUnique({ where: { id } });
    if (!before) throw notFound('Route');
    await tx.route.delete({ where: { id } });
    await writeAudit(tx, actor, 'route.delete', { type: 'route', id }, before);
  });
}
