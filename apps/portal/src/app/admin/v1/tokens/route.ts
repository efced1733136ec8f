import { deps } from '../../../../server/deps.ts';
import { restHandler, restRoute } from '../../../../server/rest/handler.ts';
import { AdminBodies } from '../../../../server/rest/request-bodies.ts';
import { readBody } from '../../../../server/rest/request-body.ts';
import { createAdminToken } from '../../../../server/use-cases/create-admin-token.ts';

const get = restHandler(['admin'], async () => ({
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

const post = restHandler(['admin'], async (actor, request) => {
  const { id, secret } = await createAdminToken(actor, await readBody(request, AdminBodies.createToken));
  return { status: 201, body: { id, token: secret } };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get, POST: post });
