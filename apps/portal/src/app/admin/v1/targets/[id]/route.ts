import { restHandler, restRoute } from '../../../../../server/rest/handler.ts';
import { removeUpstreamTarget } from '../../../../../server/use-cases/remove-upstream-target.ts';

const remove = restHandler<{ id: string }>(['admin'], async (actor, _req, { id }) => {
  await removeUpstreamTarget(actor, { id });
  return { status: 204, body: null };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ DELETE: remove });
