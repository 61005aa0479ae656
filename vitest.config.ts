import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{apps,packages,lab,bench,scripts}/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'apps/web/**'],
    globalSetup: ['./scripts/vitest-global-setup.ts', './lab/src/vitest-global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    typecheck: { enabled: false },
  },
});
