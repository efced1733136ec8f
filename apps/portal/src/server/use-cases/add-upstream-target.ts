import { z } from '@tollgate/config';
import { UpstreamTargetSchema } from '@tollgate/core';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { changeConfig } from '../config-change.ts';
import { notFound, parseInput } from '../errors.ts';
import { blankToNull, formNumberOr, uuid } from '../schemas.ts';

const target = UpstreamTargetSchema.shape;

/** An upstream with core's rules: a plain http(s) URL (stored as its href), weight, ASCII health-check path. */
export const AddUpstreamTargetSchema = z.object({
  apiId: uuid,
  url: target.url,
  weight: formNumberOr(target.weight, 1),
  healthCheckPath: z.preprocess(blankToNull, target.healthCheckPath),
});

export async function addUpstreamTarget(actor: Actor, input: unknown): Promise<{ id: string }> {
  assertRole(actor, ['admin']);
  const data = parseInput(AddUpstreamTargetSchema, input);
  return changeConfig(actor, async (tx) => {
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
