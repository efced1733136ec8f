import { deps } from '../../../../../../server/deps.ts';
import { notFound } from '../../../../../../server/errors.ts';
import { restHandler, restRoute } from '../../../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../../../server/rest/request-body.ts';
import { getConsumer, getConsumerKey, isUuid, KEY_FIELDS } from '../../../../../../server/rest/resources.ts';
import { createConsumerApiKey } from '../../../../../../server/use-cases/create-api-key.ts';

const get = restHandler<{ id: string }>(['admin'], async (_actor, _request, { id }) => {
  if (!isUuid(id)) throw notFound('Consumer');
  await getConsumer(id);
  const keys = await deps().prisma.apiKey.findMany({
    where: { consumerId: id },
    select: KEY_FIELDS,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
  });
  return { body: { keys } };
});

/** The secret is in this answer only: Tollgate keeps its hash. */
const post = restHandler<{ id: string }>(['admin'], async (actor, request, { id }) => {
  const body = await readBody(request, AdminBodies.createConsumerKey);
  if (!isUuid(id)) throw notFound('Consumer');
  const created = await createConsumerApiKey(actor, id, body);
  return { status: 201, body: { ...(await getConsumerKey(id, created.id)), secret: created.secret } };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get, POST: post });
