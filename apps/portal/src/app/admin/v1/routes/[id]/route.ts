import { notFound } from '../../../../../server/errors.ts';
import { restHandler, restRoute } from '../../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../../server/rest/request-body.ts';
import { getRoute, isUuid } from '../../../../../server/rest/resources.ts';
import { boolField } from '../../../../../server/schemas.ts';
import { deleteRoute } from '../../../../../server/use-cases/delete-route.ts';
import { saveRoute } from '../../../../../server/use-cases/save-route.ts';

type P = { id: string };

const get = restHandler<P>(['admin'], async (_actor, _req, { id }) => {
  if (!isUuid(id)) throw notFound('Route');
  return { body: await getRoute(id) };
});

/**
 * Partial update: fields not sent keep their value, except that a change of `public` without a
 * `pathMatch` takes the default match of the new value (a route made public is exact).
 */
const patch = restHandler<P>(['admin'], async (actor, request, { id }) => {
  if (!isUuid(id)) throw notFound('Route');
  const current = await getRoute(id);
  const body = await readBody(request, AdminBodies.updateRoute);
  const { apiId, name, methods, path, cost, timeoutMs, public: isPublic, pathMatch } = current;
  const publicChanges = 'public' in body && boolField.parse(body.public) !== isPublic;
  const match = publicChanges && !('pathMatch' in body) ? undefined : pathMatch;
  await saveRoute(actor, {
    name,
    methods,
    path,
    cost,
    timeoutMs,
    public: isPublic,
    pathMatch: match,
    ...body,
    apiId,
    id,
  });
  return { body: await getRoute(id) };
});

const remove = restHandler<P>(['admin'], async (actor, _req, { id }) => {
  await deleteRoute(actor, { id });
  return { status: 204, body: null };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({
  GET: get,
  PATCH: patch,
  DELETE: remove,
});
