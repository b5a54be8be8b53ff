import { defineConfig } from 'vitest/config';
import { sourceAliases } from './vitest.shared.js';

/**
 * The reliability suite alone. RELIABILITY_SCALE=full (`npm run test:reliability`) runs 10,000
 * devices and long fuzz runs, one file at a time, so that the load run has the machine to itself
 * and its throughput and memory figures mean something. The default, small scale is CI's.
 */
const full = process.env['RELIABILITY_SCALE'] === 'full';

export default defineConfig({
  resolve: { alias: sourceAliases },
  test: {
    // tmp-guard first: its teardown, last, fails the run if tests left files in the OS temp dir.
    globalSetup: ['test/tmp-guard.ts', 'test/global-setup.ts'],
    include: ['test/reliability/**/*.test.ts'],
    testTimeout: 60 * 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: !full,
    reporters: ['default'],
  },
});
