import { restHandler, restRoute } from '../../../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../../../server/rest/request-body.ts';
import { getConsumer } from '../../../../../../server/rest/resources.ts';
import { changeConsumerPlan } from '../../../../../../server/use-cases/change-consumer-plan.ts';

const post = restHandler<{ id: string }>(['admin'], async (actor, request, { id }) => {
  const body = await readBody(request, AdminBodies.changeConsumerPlan);
  await changeConsumerPlan(actor, { planId: body.planId, id });
  return { body: await getConsumer(id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ POST: post });
