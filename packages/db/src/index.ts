// PrismaClient, the Prisma namespace (input types, errors), every enum and every model type.
export * from './config-versions.ts';
export { databaseError } from './database-error.ts';
export * from './generated/prisma/client.ts';
export { migratePostgres, POSTGRES_MIGRATIONS_DIR } from './migrate.ts';
export {
  DEFAULT_PASSWORD_HASH_PARAMS,
  hashPassword,
  type PasswordHashParams,
  verifyPassword,
} from './password.ts';
export { createPrisma } from './prisma.ts';
export { DEMO, DEMO_API_KEY, type SeedResult, seedDemoData } from './seed.ts';
