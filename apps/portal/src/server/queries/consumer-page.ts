import { deps } from '../deps.ts';
import { invalid } from '../errors.ts';

/**
 * Keyset pagination of consumers, newest first: the cursor is the (created_at, id) of the last
 * row sent, so a page is stable while consumers are created (an offset would skip or repeat).
 * Opaque to clients: base64url of "<ISO time>|<uuid>".
 */
export function encodeCursor(row: { createdAt: Date; id: string }): string {
  return Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id, rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (
    rest !== undefined ||
    id === undefined ||
    Number.isNaN(createdAt.getTime()) ||
    !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
  )
    throw invalid('cursor: not a cursor', { cursor: 'not a cursor' });
  return { createdAt, id };
}

export async function consumerPage(filter: {
  q?: string;
  externalId?: string;
  limit: number;
  cursor?: string;
}) {
  const query = filter.q?.trim() ?? '';
  const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
  const rows = await deps().prisma.consumer.findMany({
    where: {
      AND: [
        query
          ? {
              OR: [
                { name: { contains: query, mode: 'insensitive' } },
                { members: { some: { user: { email: { contains: query, mode: 'insensitive' } } } } },
                ...(/^[0-9a-f-]{36}$/i.test(query) ? [{ id: query }] : []),
              ],
            }
          : {},
        filter.externalId === undefined ? {} : { externalId: filter.externalId },
        after === undefined
          ? {}
          : {
              OR: [
                { createdAt: { lt: after.createdAt } },
                { createdAt: after.createdAt, id: { lt: after.id } },
              ],
            },
      ],
    },
    include: {
      members: { include: { user: { select: { email: true } } } },
      subscriptions: {
        where: { status: { not: 'canceled' } },
        orderBy: { createdAt: 'desc' },
        take: 1,
      },
      _count: { select: { apiKeys: true } },
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: filter.limit + 1,
  });
  const page = rows.slice(0, filter.limit);
  const last = page.at(-1);
  return { page, nextCursor: rows.length > filter.limit && last ? encodeCursor(last) : null };
}
