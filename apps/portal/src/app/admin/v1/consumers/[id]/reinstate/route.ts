import { restHandler, restRoute } from '../../../../../../server/rest/handler.ts';
import { getConsumer } from '../../../../../../server/rest/resources.ts';
import { reinstateConsumer } from '../../../../../../server/use-cases/reinstate-consumer.ts';

const post = restHandler<{ id: string }>(['admin'], async (actor, _request, { id }) => {
  await reinstateConsumer(actor, { id });
  return { body: await getConsumer(id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ POST: post });
