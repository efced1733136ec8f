import { z } from '@tollgate/config';
import { ApiConfigSchema, DisplayNameSchema } from '@tollgate/core';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { changeConfig } from '../config-change.ts';
import { notFound, parseInput, TollgateError } from '../errors.ts';
import { blankToNull, boolField, formList, formNumber, optionalText, uuid } from '../schemas.ts';

const openapiField = z.preprocess((v) => {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return 'INVALID_JSON';
  }
}, z.record(z.string(), z.unknown(), { message: 'must be a JSON object (an OpenAPI document)' }).nullable());

const api = ApiConfigSchema.shape;

/**
 * The API row: the gateway's fields with core's rules (ApiConfigSchema), plus name, description
 * and OpenAPI document. upstreamHost, loadBalancing and maxBodyBytes are optional: left out,
 * an update keeps them (the UI's form does not show them) and a new API gets the defaults.
 */
export const SaveApiSchema = z.object({
  id: uuid.optional(),
  name: DisplayNameSchema,
  slug: api.slug,
  description: optionalText(2000),
  basePath: api.basePath,
  hosts: formList(api.hosts),
  stripBasePath: boolField,
  upstreamHost: z.preprocess(blankToNull, api.upstreamHost).optional(),
  loadBalancing: api.loadBalancing.optional(),
  maxBodyBytes: z.preprocess((v) => (v === '' ? null : v), formNumber(api.maxBodyBytes)).optional(),
  openapi: openapiField,
});

/** Creates an API (no id) or updates one (id). Audited in the same transaction. */
export async function saveApi(actor: Actor, input: unknown): Promise<{ id: string }> {
  assertRole(actor, ['admin']);
  const { id, openapi, ...data } = parseInput(SaveApiSchema, input);
  const fields = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)) as typeof data;
  const row = { ...fields, openapi: openapi === null ? undefined : (openapi as object) };
  return changeConfig(
    actor,
    async (tx) => {
      const clash = await tx.api.findUnique({ where: { slug: data.slug }, select: { id: true } });
      if (clash && clash.id !== id)
        throw new TollgateError('conflict', 'SLUG_TAKEN', `An API with slug "${data.slug}" exists.`, {
          details: { fieldErrors: { slug: 'taken' } },
        });
      if (id) {
        const before = await tx.api.findUnique({ where: { id } });
        if (!before) throw notFound('API');
        const after = await tx.api.update({ where: { id }, data: row });
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
      const created = await tx.api.create({ data: row });
      await writeAudit(tx, actor, 'api.create', { type: 'api', id: created.id }, undefined, {
        ...created,
        openapi: undefined,
      });
      return { id: created.id };
    },
    // Its routes overlap others because of where the API now sits.
    { fieldAliases: { path: 'basePath', routes: 'basePath' } },
  );
}
