import { readJson, restHandler } from '../../../../../../server/rest/handler.ts';
import { getConsumer } from '../../../../../../server/rest/resources.ts';
import { suspendConsumer } from '../../../../../../server/use-cases/suspend-consumer.ts';

export const POST = restHandler<{ id: string }>(['admin'], async (actor, request, { id }) => {
  const body = (await readJson(request)) as Record<string, unknown>;
  await suspendConsumer(actor, { reason: body.reason, id });
  return { body: await getConsumer(id) };
});
