import { deps } from '../../../../server/deps.ts';
import { readJson, restHandler } from '../../../../server/rest/handler.ts';
import { getApi } from '../../../../server/rest/resources.ts';
import { saveApi } from '../../../../server/use-cases/save-api.ts';

export const GET = restHandler(['admin'], async () => ({
  body: {
    apis: await deps().prisma.api.findMany({
      orderBy: { name: 'asc' },
      include: { routes: true, targets: true },
    }),
  },
}));

export const POST = restHandler(['admin'], async (actor, request) => {
  const body = (await readJson(request)) as Record<string, unknown>;
  const { id } = await saveApi(actor, { ...body, id: undefined });
  return { status: 201, body: await getApi(id) };
});
