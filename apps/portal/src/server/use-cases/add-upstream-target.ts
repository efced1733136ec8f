import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { intField, uuid } from '../schemas.ts';

export const AddUpstreamTargetSchema = z.object({
  apiId: uuid,
  url: z.url({ protocol: /^https?$/, message: 'an http(s) URL' }).max(500),
  weight: intField(1, 1000).default(1),
  healthCheckPath: z.preprocess(
    (v) => (v === '' || v === undefined ? null : v),
    z
      .string()
      .regex(/^\/\S*$/, 'a path starting with /')
      .max(200)
      .nullable(),
  ),
});

export async function addUpstreamTarget(actor: Actor, input: unknown): Promise<{ id: string }> {
  assertRole(actor, ['admin']);
  const data = parseInput(AddUpstreamTargetSchema, input);
  return deps().prisma.$transaction(async (tx) => {
    if (!(await tx.api.findUnique({ where: { id: data.apiId }, select: { id: true } })))
      throw notFound('API');
    const created = await tx.upstreamTarget.create({ data });
    await writeAudit(
      tx,
      actor,
      'upstream.create',
      { type: 'upstream_target', id: created.id },
      undefined,
      created,
    );
    return { id: created.id };
  });
}
