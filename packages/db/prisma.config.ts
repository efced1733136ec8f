import { defineConfig } from 'prisma/config';

// Used only by `prisma generate` (see package.json). Migrations are SQL under /migrations.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  datasource: { url: process.env.DATABASE_URL ?? 'postgres://tollgate:tollgate@127.0.0.1:55432/tollgate' },
});
