import { deps } from '../../../../../../server/deps.ts';
import { restHandler, restRoute } from '../../../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../../../server/rest/request-body.ts';
import { addUpstreamTarget } from '../../../../../../server/use-cases/add-upstream-target.ts';

const post = restHandler<{ id: string }>(['admin'], async (actor, request, { id }) => {
  const body = await readBody(request, AdminBodies.addTarget);
  const created = await addUpstreamTarget(actor, { ...body, apiId: id });
  return { status: 201, body: await deps().prisma.upstreamTarget.findUnique({ where: { id: created.id } }) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ POST: post });
