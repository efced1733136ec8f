import { restHandler, restRoute } from '../../../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../../../server/rest/request-body.ts';
import { getConsumer } from '../../../../../../server/rest/resources.ts';
import { suspendConsumer } from '../../../../../../server/use-cases/suspend-consumer.ts';

const post = restHandler<{ id: string }>(['admin'], async (actor, request, { id }) => {
  const body = await readBody(request, AdminBodies.suspendConsumer);
  await suspendConsumer(actor, { reason: body.reason, id });
  return { body: await getConsumer(id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ POST: post });
