import { defineConfig } from 'vitest/config';
import { sourceAliases } from './vitest.shared.js';

export default defineConfig({
  resolve: { alias: sourceAliases },
  test: {
    // tmp-guard first: its teardown, last, fails the run if tests left files in the OS temp dir.
    globalSetup: ['test/tmp-guard.ts', 'test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
