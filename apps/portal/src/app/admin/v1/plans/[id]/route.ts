import { notFound } from '../../../../../server/errors.ts';
import { restHandler, restRoute } from '../../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../../server/rest/request-body.ts';
import { getPlan, isUuid } from '../../../../../server/rest/resources.ts';
import { savePlan } from '../../../../../server/use-cases/save-plan.ts';

type P = { id: string };

const get = restHandler<P>(['admin'], async (_actor, _req, { id }) => {
  if (!isUuid(id)) throw notFound('Plan');
  return { body: await getPlan(id) };
});

/** Partial update: fields not sent keep their value (apiIds replaces the included APIs when sent). */
const patch = restHandler<P>(['admin'], async (actor, request, { id }) => {
  if (!isUuid(id)) throw notFound('Plan');
  const { entitlements, ...current } = await getPlan(id);
  const body = await readBody(request, AdminBodies.updatePlan);
  await savePlan(actor, {
    ...current,
    apiIds: entitlements.filter((e) => e.routeId === null).map((e) => e.apiId),
    ...body,
    id,
  });
  return { body: await getPlan(id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get, PATCH: patch });
