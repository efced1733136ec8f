import { notFound } from '../../../../../server/errors.ts';
import { restHandler, restRoute } from '../../../../../server/rest/handler.ts';
import { getConsumer, isUuid } from '../../../../../server/rest/resources.ts';

const get = restHandler<{ id: string }>(['admin'], async (_actor, _req, { id }) => {
  if (!isUuid(id)) throw notFound('Consumer');
  return { body: await getConsumer(id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get });
