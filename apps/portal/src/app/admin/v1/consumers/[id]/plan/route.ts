import { readJson, restHandler } from '../../../../../../server/rest/handler.ts';
import { getConsumer } from '../../../../../../server/rest/resources.ts';
import { changeConsumerPlan } from '../../../../../../server/use-cases/change-consumer-plan.ts';

export const POST = restHandler<{ id: string }>(['admin'], async (actor, request, { id }) => {
  const body = (await readJson(request)) as Record<string, unknown>;
  await changeConsumerPlan(actor, { planId: body.planId, id });
  return { body: await getConsumer(id) };
});
