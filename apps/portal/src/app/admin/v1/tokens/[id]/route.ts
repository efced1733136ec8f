import { restHandler, restRoute } from '../../../../../server/rest/handler.ts';
import { revokeAdminToken } from '../../../../../server/use-cases/revoke-admin-token.ts';

const remove = restHandler<{ id: string }>(['admin'], async (actor, _req, { id }) => {
  await revokeAdminToken(actor, { id });
  return { status: 204, body: null };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ DELETE: remove });
