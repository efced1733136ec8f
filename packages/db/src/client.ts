/**
 * Runtime-only entry point (`@tollgate/db/client`) for bundled apps such as the Next.js
 * portal: the Prisma client and password hashing, without the migration, seed and stack-env
 * helpers (they locate files with `new URL(..., import.meta.url)`, which bundlers rewrite).
 */
export * from './config-versions.ts';
export { databaseError } from './database-error.ts';
export * from './generated/prisma/client.ts';
export { hashPassword, type PasswordHashParams, verifyPassword } from './password.ts';
export { createPrisma } from './prisma.ts';
