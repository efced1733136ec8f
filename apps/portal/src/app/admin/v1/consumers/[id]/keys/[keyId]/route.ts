import { restHandler, restRoute } from '../../../../../../../server/rest/handler.ts';
import { getConsumerKey } from '../../../../../../../server/rest/resources.ts';
import { revokeApiKey } from '../../../../../../../server/use-cases/revoke-api-key.ts';

type Params = { id: string; keyId: string };

const get = restHandler<Params>(['admin'], async (_actor, _request, { id, keyId }) => ({
  body: await getConsumerKey(id, keyId),
}));

/** Revokes at once (the gateway drops the key on its next config change); revoking again changes nothing. */
const del = restHandler<Params>(['admin'], async (actor, _request, { id, keyId }) => {
  await getConsumerKey(id, keyId);
  await revokeApiKey(actor, { keyId });
  return { status: 204, body: null };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get, DELETE: del });
