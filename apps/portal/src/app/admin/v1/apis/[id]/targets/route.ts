import { deps } from '../../../../../../server/deps.ts';
import { readJson, restHandler } from '../../../../../../server/rest/handler.ts';
import { addUpstreamTarget } from '../../../../../../server/use-cases/add-upstream-target.ts';

export const POST = restHandler<{ id: string }>(['admin'], async (actor, request, { id }) => {
  const body = (await readJson(request)) as Record<string, unknown>;
  const created = await addUpstreamTarget(actor, { ...body, apiId: id });
  return { status: 201, body: await deps().prisma.upstreamTarget.findUnique({ where: { id: created.id } }) };
});
