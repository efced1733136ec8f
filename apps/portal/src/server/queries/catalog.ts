import { deps } from '../deps.ts';

export async function listApis() {
  return deps().prisma.api.findMany({
    orderBy: { name: 'asc' },
    select: {
      id: true,
      name: true,
      slug: true,
      description: true,
      basePath: true,
      _count: { select: { routes: true } },
    },
  });
}

export async function apiBySlug(slug: string) {
  return deps().prisma.api.findUnique({
    where: { slug },
    include: { routes: { orderBy: { path: 'asc' } } },
  });
}
