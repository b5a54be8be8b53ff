import { join } from 'node:path';
import { buildPackage } from '@global-iot/tools/build-package.js';

/**
 * Builds the packages that ship as JavaScript (device client, ops CLI) once, before any test
 * file runs: tests that start `iot-provision` or `iot-ops` as processes run what users install,
 * and no test rebuilds them while another runs them.
 */
export default async function setup(): Promise<void> {
  const root = join(import.meta.dirname, '..');
  await Promise.all(['device', 'ops'].map((folder) => buildPackage(join(root, folder))));
}
