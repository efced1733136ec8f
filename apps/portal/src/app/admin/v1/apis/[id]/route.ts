import { notFound } from '../../../../../server/errors.ts';
import { readJson, restHandler } from '../../../../../server/rest/handler.ts';
import { getApi, isUuid } from '../../../../../server/rest/resources.ts';
import { deleteApi } from '../../../../../server/use-cases/delete-api.ts';
import { saveApi } from '../../../../../server/use-cases/save-api.ts';

type P = { id: string };

export const GET = restHandler<P>(['admin'], async (_actor, _req, { id }) => {
  if (!isUuid(id)) throw notFound('API');
  return { body: await getApi(id) };
});

/** Partial update: fields not sent keep their value. */
export const PATCH = restHandler<P>(['admin'], async (actor, request, { id }) => {
  if (!isUuid(id)) throw notFound('API');
  const current = await getApi(id);
  const body = (await readJson(request)) as Record<string, unknown>;
  await saveApi(actor, {
    name: current.name,
    slug: current.slug,
    description: current.description,
    basePath: current.basePath,
    hosts: current.hosts,
    stripBasePath: current.stripBasePath,
    openapi: current.openapi,
    ...body,
    id,
  });
  return { body: await getApi(id) };
});

export const DELETE = restHandler<P>(['admin'], async (actor, _req, { id }) => {
  await deleteApi(actor, { id });
  return { status: 204, body: null };
});
