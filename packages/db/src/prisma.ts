import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.ts';

/**
 * The Prisma client over node-postgres (no native query engine). One per app, built in
 * main.ts and passed down; there is deliberately no global instance. Call `$disconnect()` on
 * shutdown. The generated client lives in ./generated (run packages/db/scripts/generate.sh).
 */
export function createPrisma(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}
