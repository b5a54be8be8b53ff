import { defineConfig } from 'vitest/config';
import { sourceAliases } from './vitest.shared.js';

export default defineConfig({
  resolve: { alias: sourceAliases },
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
