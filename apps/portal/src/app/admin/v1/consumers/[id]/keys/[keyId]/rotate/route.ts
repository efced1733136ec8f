import { restHandler, restRoute } from '../../../../../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../../../../../server/rest/request-body.ts';
import { getConsumerKey } from '../../../../../../../../server/rest/resources.ts';
import { rotateApiKey } from '../../../../../../../../server/use-cases/rotate-api-key.ts';

type Params = { id: string; keyId: string };

/** A replacement key (its secret in this answer only); the old one keeps working for overlapHours. */
const post = restHandler<Params>(['admin'], async (actor, request, { id, keyId }) => {
  const body = await readBody(request, AdminBodies.rotateConsumerKey);
  await getConsumerKey(id, keyId);
  const created = await rotateApiKey(actor, { ...body, keyId });
  return {
    status: 201,
    body: {
      ...(await getConsumerKey(id, created.id)),
      secret: created.secret,
      oldKeyExpiresAt: created.oldKeyExpiresAt,
    },
  };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ POST: post });
