import { notFound } from '../../../../../server/errors.ts';
import { readJson, restHandler } from '../../../../../server/rest/handler.ts';
import { getPlan, isUuid } from '../../../../../server/rest/resources.ts';
import { savePlan } from '../../../../../server/use-cases/save-plan.ts';

type P = { id: string };

export const GET = restHandler<P>(['admin'], async (_actor, _req, { id }) => {
  if (!isUuid(id)) throw notFound('Plan');
  return { body: await getPlan(id) };
});

/** Partial update: fields not sent keep their value (apiIds replaces the included APIs when sent). */
export const PATCH = restHandler<P>(['admin'], async (actor, request, { id }) => {
  if (!isUuid(id)) throw notFound('Plan');
  const { entitlements, ...current } = await getPlan(id);
  const body = (await readJson(request)) as Record<string, unknown>;
  await savePlan(actor, {
    ...current,
    apiIds: entitlements.filter((e) => e.routeId === null).map((e) => e.apiId),
    ...body,
    id,
  });
  return { body: await getPlan(id) };
});
