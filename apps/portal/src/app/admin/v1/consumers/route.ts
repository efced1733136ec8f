import { searchConsumers } from '../../../../server/queries/admin.ts';
import { restHandler } from '../../../../server/rest/handler.ts';

export const GET = restHandler(['admin'], async (_actor, request) => {
  const q = new URL(request.url).searchParams.get('q')?.slice(0, 100) ?? '';
  const consumers = await searchConsumers(q, 200);
  return {
    body: {
      consumers: consumers.map((c) => ({
        id: c.id,
        name: c.name,
        status: c.status,
        suspendedReason: c.suspendedReason,
        members: c.members.map((m) => m.user.email),
        subscription: c.subscriptions[0]
          ? { planId: c.subscriptions[0].planId, status: c.subscriptions[0].status }
          : null,
        apiKeys: c._count.apiKeys,
        createdAt: c.createdAt,
      })),
    },
  };
});
