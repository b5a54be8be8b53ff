import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** The built `iot-provision` (test/global-setup.ts builds it before the tests run). */
export const DEVICE_BIN = join(REPO_ROOT, 'device', 'dist', 'cli.js');
/** The built `iot-ops`. */
export const OPS_BIN = join(REPO_ROOT, 'ops', 'dist', 'cli.js');
