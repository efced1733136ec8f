import { deps } from '../../../../server/deps.ts';
import { readJson, restHandler } from '../../../../server/rest/handler.ts';
import { getPlan } from '../../../../server/rest/resources.ts';
import { savePlan } from '../../../../server/use-cases/save-plan.ts';

export const GET = restHandler(['admin'], async () => ({
  body: {
    plans: await deps().prisma.plan.findMany({
      orderBy: { priceCents: 'asc' },
      include: { entitlements: true },
    }),
  },
}));

export const POST = restHandler(['admin'], async (actor, request) => {
  const body = (await readJson(request)) as Record<string, unknown>;
  const { id } = await savePlan(actor, { ...body, id: undefined });
  return { status: 201, body: await getPlan(id) };
});
