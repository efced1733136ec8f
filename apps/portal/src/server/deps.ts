import { createPrisma, type PrismaClient } from '@tollgate/db/client';
import { getConfig } from '../config.ts';

/**
 * Next.js has no main.ts to build adapters in, so the portal builds them here, once per
 * server process, on first use. Everything else receives them from `deps()`.
 */
interface Deps {
  prisma: PrismaClient;
}

const holder = globalThis as unknown as { __tollgatePortalDeps?: Deps };

/** Tests and scripts: use these adapters instead of building them from the configuration. */
export function provideDeps(provided: Deps): void {
  holder.__tollgatePortalDeps = provided;
}

export function deps(): Deps {
  holder.__tollgatePortalDeps ??= { prisma: createPrisma(getConfig().DATABASE_URL) };
  return holder.__tollgatePortalDeps;
}
