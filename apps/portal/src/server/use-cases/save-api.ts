import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput, TollgateError } from '../errors.ts';
import { boolField, optionalText, slug, stringList, trimmed, uuid } from '../schemas.ts';

const openapiField = z.preprocess((v) => {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return 'INVALID_JSON';
  }
}, z.record(z.string(), z.unknown(), { message: 'must be a JSON object (an OpenAPI document)' }).nullable());

export const SaveApiSchema = z.object({
  id: uuid.optional(),
  name: trimmed(100),
  slug,
  description: optionalText(2000),
  basePath: z
    .string()
    .trim()
    .regex(/^\/[A-Za-z0-9._~\-/]*$/, 'a path starting with /'),
  hosts: stringList(z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, 'host names')),
  stripBasePath: boolField,
  openapi: openapiField,
});

/** Creates an API (no id) or updates one (id). Audited in the same transaction. */
export async function saveApi(actor: Actor, input: unknown): Promise<{ id: string }> {
  assertRole(actor, ['admin']);
  const { id, ...data } = parseInput(SaveApiSchema, input);
  const prisma = deps().prisma;
  const clash = await prisma.api.findUnique({ where: { slug: data.slug }, select: { id: true } });
  if (clash && clash.id !== id)
    throw new TollgateError('conflict', 'SLUG_TAKEN', `An API with slug "${data.slug}" exists.`);
  const { openapi, ...rest } = data;
  const fields = { ...rest, openapi: openapi === null ? undefined : (openapi as object) };
  return prisma.$transaction(async (tx) => {
    if (id) {
      const before = await tx.api.findUnique({ where: { id } });
      if (!before) throw notFound('API');
      const after = await tx.api.update({ where: { id }, data: fields });
      await writeAudit(
        tx,
        actor,
        'api.update',
        { type: 'api', id },
        { ...before, openapi: undefined },
        { ...after, openapi: undefined },
      );
      return { id };
    }
    const created = await tx.api.create({ data: fields });
    await writeAudit(tx, actor, 'api.create', { type: 'api', id: created.id }, undefined, {
      ...created,
      openapi: undefined,
    });
    return { id: created.id };
  });
}
