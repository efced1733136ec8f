import { consumerPage } from '../../../../server/queries/consumer-page.ts';
import { parseQuery, restHandler, restRoute } from '../../../../server/rest/handler.ts';
import { ConsumerSearchQuerySchema } from '../../../../server/rest/query-schemas.ts';
import { AdminBodies } from '../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../server/rest/request-body.ts';
import { getConsumer } from '../../../../server/rest/resources.ts';
import { createConsumer } from '../../../../server/use-cases/create-consumer.ts';

const get = restHandler(['admin'], async (_actor, request) => {
  const query = parseQuery(ConsumerSearchQuerySchema, request);
  const { page, nextCursor } = await consumerPage(query);
  return {
    body: {
      consumers: page.map((c) => ({
        id: c.id,
        name: c.name,
        externalId: c.externalId,
        status: c.status,
        suspendedReason: c.suspendedReason,
        members: c.members.map((m) => m.user.email),
        subscription: c.subscriptions[0]
          ? { planId: c.subscriptions[0].planId, status: c.subscriptions[0].status }
          : null,
        apiKeys: c._count.apiKeys,
        createdAt: c.createdAt,
      })),
      nextCursor,
    },
  };
});

const post = restHandler(['admin'], async (actor, request) => {
  const body = await readBody(request, AdminBodies.createConsumer);
  const { id } = await createConsumer(actor, body);
  return { status: 201, body: await getConsumer(id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get, POST: post });
