import { restHandler } from '../../../../../server/rest/handler.ts';
import { removeUpstreamTarget } from '../../../../../server/use-cases/remove-upstream-target.ts';

export const DELETE = restHandler<{ id: string }>(['admin'], async (actor, _req, { id }) => {
  await removeUpstreamTarget(actor, { id });
  return { status: 204, body: null };
});
