import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e tests spawn real servers; two cores, so keep files from piling up.
    maxWorkers: 2,
    pool: 'forks',
  },
});
