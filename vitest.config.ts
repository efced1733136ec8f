import { defineConfig } from 'vitest/config';

// One vitest run over every workspace: unit tests (*.test.ts) and integration tests
// (*.int.test.ts) against the real services that infra/stack.sh started.
export default defineConfig({
  test: {
    include: ['{apps,packages,e2e,infra,bench}/**/*.{test,int.test}.ts'],
    exclude: ['**/node_modules/**', '**/.next/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
