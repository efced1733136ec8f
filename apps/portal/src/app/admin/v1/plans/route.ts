import { deps } from '../../../../server/deps.ts';
import { restHandler, restRoute } from '../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../server/rest/request-body.ts';
import { getPlan } from '../../../../server/rest/resources.ts';
import { savePlan } from '../../../../server/use-cases/save-plan.ts';

const get = restHandler(['admin'], async () => ({
  body: {
    plans: await deps().prisma.plan.findMany({
      orderBy: { priceCents: 'asc' },
      include: { entitlements: true },
    }),
  },
}));

const post = restHandler(['admin'], async (actor, request) => {
  const body = await readBody(request, AdminBodies.createPlan);
  const { id } = await savePlan(actor, { ...body, id: undefined });
  return { status: 201, body: await getPlan(id) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get, POST: post });
