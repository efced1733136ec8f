import { deps } from '../deps.ts';

export async function searchConsumers(q: string, take = 50) {
  const query = q.trim();
  return deps().prisma.consumer.findMany({
    where: query
      ? {
          OR: [
            { name: { contains: query, mode: 'insensitive' } },
            { members: { some: { user: { email: { contains: query, mode: 'insensitive' } } } } },
            ...(/^[0-9a-f-]{36}$/i.test(query) ? [{ id: query }] : []),
          ],
        }
      : {},
    include: {
      members: { include: { user: { select: { email: true } } } },
      subscriptions: {
        where: { status: { not: 'canceled' } },
        include: { plan: { select: { id: true, name: true } } },
        orderBy: { createdAt: 'desc' },
        take: 1,
      },
      _count: { select: { apiKeys: true } },
    },
    orderBy: { createdAt: 'desc' },
    take,
  });
}

export async function auditEntries(
  filter: { action?: string; targetType?: string; targetId?: string },
  take = 100,
) {
  return deps().prisma.auditLog.findMany({
    where: {
      ...(filter.action ? { action: { startsWith: filter.action } } : {}),
      ...(filter.targetType ? { targetType: filter.targetType } : {}),
      ...(filter.targetId ? { targetId: filter.targetId } : {}),
    },
    orderBy: { id: 'desc' },
    take,
  });
}
