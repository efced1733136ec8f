import { notFound } from '../../../../../server/errors.ts';
import { restHandler, restRoute } from '../../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../../server/rest/request-body.ts';
import { getApi, isUuid } from '../../../../../server/rest/resources.ts';
import { deleteApi } from '../../../../../server/use-cases/delete-api.ts';
import { saveApi } from '../../../../../server/use-cases/save-api.ts';

type P = { id: string };

const get = restHandler<P>(['admin'], async (_actor, _req, { id }) => {
  if (!isUuid(id)) throw notFound('API');
  return { body: await getApi(id) };
});

/** Partial update: fields not sent keep their value. */
const patch = restHandler<P>(['admin'], async (actor, request, { id }) => {
  if (!isUuid(id)) throw notFound('API');
  const current = await getApi(id);
  const body = await readBody(request, AdminBodies.updateApi);
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

const remove = restHandler<P>(['admin'], async (actor, _req, { id }) => {
  await deleteApi(actor, { id });
  return { status: 204, body: null };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({
  GET: get,
  PATCH: patch,
  DELETE: remove,
});
