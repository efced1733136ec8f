import { restHandler } from '../../../../../../server/rest/handler.ts';
import { getConsumer } from '../../../../../../server/rest/resources.ts';
import { reinstateConsumer } from '../../../../../../server/use-cases/reinstate-consumer.ts';

export const POST = restHandler<{ id: string }>(['admin'], async (actor, _request, { id }) => {
  await reinstateConsumer(actor, { id });
  return { body: await getConsumer(id) };
});
