import { deps } from '../../../../server/deps.ts';
import { restHandler, restRoute } from '../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../server/rest/request-body.ts';
import { getApi } from '../../../../server/rest/resources.ts';
import { saveApi } from '../../../../server/use-cases/save-api.ts';

const get = restHandler(['admin'], async () => ({
  body: {
    apis: await deps().prisma.api.findMany({
      orderBy: { name: 'asc' },
      include: { routes: true, targets: true },
    }),
  },
}));

const post = restHandler(['admin'], async (actor, request) => {
  const body = await readBody(request, AdminBodies.createApi);
  const { id } = await saveApi(actor, { ...body, id: undefined });
  return { status: 201, body: await getApi(id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get, POST: post });
