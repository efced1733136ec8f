import { restHandler, restRoute } from '../../../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../../../server/rest/request-body.ts';
import { getRoute } from '../../../../../../server/rest/resources.ts';
import { saveRoute } from '../../../../../../server/use-cases/save-route.ts';

const post = restHandler<{ id: string }>(['admin'], async (actor, request, { id }) => {
  const body = await readBody(request, AdminBodies.createRoute);
  const created = await saveRoute(actor, { ...body, id: undefined, apiId: id });
  return { status: 201, body: await getRoute(created.id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ POST: post });
