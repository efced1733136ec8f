import { restHandler, restRoute } from '../../../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../../../server/rest/request-body.ts';
import { getConsumer } from '../../../../../../server/rest/resources.ts';
import { addConsumerMember } from '../../../../../../server/use-cases/add-consumer-member.ts';

const post = restHandler<{ id: string }>(['admin'], async (actor, request, { id }) => {
  const body = await readBody(request, AdminBodies.addConsumerMember);
  await addConsumerMember(actor, { ...body, id });
  return { body: await getConsumer(id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ POST: post });
