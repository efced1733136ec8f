import { deps } from '../../../../server/deps.ts';
import { readJson, restHandler } from '../../../../server/rest/handler.ts';
import { createAdminToken } from '../../../../server/use-cases/create-admin-token.ts';

export const GET = restHandler(['admin'], async () => ({
  body: {
    tokens: await deps().prisma.adminToken.findMany({
      orderBy: { createdAt: 'desc' },
      select: {
        id: true,
        name: true,
        prefix: true,
        role: true,
        createdAt: true,
        lastUsedAt: true,
        revokedAt: true,
      },
    }),
  },
}));

export const POST = restHandler(['admin'], async (actor, request) => {
  const { id, secret } = await createAdminToken(actor, await readJson(request));
  return { status: 201, body: { id, token: secret } };
});
