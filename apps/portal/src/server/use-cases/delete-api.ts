import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { changeConfig } from '../config-change.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';

export const DeleteApiSchema = z.object({ id: uuid });

export async function deleteApi(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id } = parseInput(DeleteApiSchema, input);
  await changeConfig(actor, async (tx) => {
    const before = await tx.api.findUnique({ where: { id } });
    if (!before) throw notFound('API');
    await tx.api.delete({ where: { id } });
    await writeAudit(tx, actor, 'api.delete', { type: 'api', id }, { ...before, openapi: undefined });
  });
}
