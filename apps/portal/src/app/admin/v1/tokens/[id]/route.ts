import { restHandler } from '../../../../../server/rest/handler.ts';
import { revokeAdminToken } from '../../../../../server/use-cases/revoke-admin-token.ts';

export const DELETE = restHandler<{ id: string }>(['admin'], async (actor, _req, { id }) => {
  await revokeAdminToken(actor, { id });
  return { status: 204, body: null };
});
