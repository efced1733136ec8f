import { notFound } from '../../../../../server/errors.ts';
import { readJson, restHandler } from '../../../../../server/rest/handler.ts';
import { getRoute, isUuid } from '../../../../../server/rest/resources.ts';
import { deleteRoute } from '../../../../../server/use-cases/delete-route.ts';
import { saveRoute } from '../../../../../server/use-cases/save-route.ts';

type P = { id: string };

export const GET = restHandler<P>(['admin'], async (_actor, _req, { id }) => {
  if (!isUuid(id)) throw notFound('Route');
  return { body: await getRoute(id) };
});

export const PATCH = restHandler<P>(['admin'], async (actor, request, { id }) => {
  if (!isUuid(id)) throw notFound('Route');
  const current = await getRoute(id);
  const body = (await readJson(request)) as Record<string, unknown>;
  const { apiId, name, methods, path, cost, timeoutMs, public: isPublic } = current;
  await saveRoute(actor, { name, methods, path, cost, timeoutMs, public: isPublic, ...body, apiId, id });
  return { body: await getRoute(id) };
});

export const DELETE = restHandler<P>(['admin'], async (actor, _req, { id }) => {
  await deleteRoute(actor, { id });
  return { status: 204, body: null };
});
