import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.ts';

/**
 * Runtime-only entry point (`@tollgate/db/client`) for bundled apps such as the Next.js
 * portal: the Prisma client and password hashing, without the migration, seed and stack-env
 * helpers (they locate files with `new URL(..., import.meta.url)`, which bundlers rewrite).
 * Same createPrisma as the package root.
 */
export function createPrisma(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}

export * from './generated/prisma/client.ts';
export { hashPassword, type PasswordHashParams, verifyPassword } from './password.ts';
