import { readJson, restHandler } from '../../../../../../server/rest/handler.ts';
import { getRoute } from '../../../../../../server/rest/resources.ts';
import { saveRoute } from '../../../../../../server/use-cases/save-route.ts';

export const POST = restHandler<{ id: string }>(['admin'], async (actor, request, { id }) => {
  const body = (await readJson(request)) as Record<string, unknown>;
  const created = await saveRoute(actor, { ...body, id: undefined, apiId: id });
  return { status: 201, body: await getRoute(created.id) };
});
