import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { changeConfig } from '../config-change.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';

export const RemoveUpstreamTargetSchema = z.object({ id: uuid });

export async function removeUpstreamTarget(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id } = parseInput(RemoveUpstreamTargetSchema, input);
  await changeConfig(actor, async (tx) => {
    const before = await tx.upstreamTarget.findUnique({ where: { id } });
    if (!before) throw notFound('Upstream target');
    await tx.upstreamTarget.delete({ where: { id } });
    await writeAudit(tx, actor, 'upstream.delete', { type: 'upstream_target', id }, before);
  });
}
