import { notFound } from '../../../../../server/errors.ts';
import { restHandler } from '../../../../../server/rest/handler.ts';
import { getConsumer, isUuid } from '../../../../../server/rest/resources.ts';

export const GET = restHandler<{ id: string }>(['admin'], async (_actor, _req, { id }) => {
  if (!isUuid(id)) throw notFound('Consumer');
  return { body: await getConsumer(id) };
});
