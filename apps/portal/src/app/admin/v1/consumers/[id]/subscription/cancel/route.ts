import { restHandler, restRoute } from '../../../../../../../server/rest/handler.ts';
import { getConsumer } from '../../../../../../../server/rest/resources.ts';
import { cancelConsumerSubscription } from '../../../../../../../server/use-cases/cancel-consumer-subscription.ts';

const post = restHandler<{ id: string }>(['admin'], async (actor, _request, { id }) => {
  await cancelConsumerSubscription(actor, { id });
  return { body: await getConsumer(id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ POST: post });
