/**
 * Drain benchmark (issue 16: `npm start -- --scenario drain`). A fleet of 300 devices through the
 * local cloud running the product, then the region that took the most devices drained with
 * migration at 20 requests a second; its devices boot again and move. Figures: how many moved,
 * how long a move took from the operator's request to the switch (the registry's history) and on
 * the device, and moves per second. The devices run in a child process, the cloud in this one.
 *
 *   npx tsx bench/drain.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFleetDemo } from '@global-iot/local/fleet/demo.js';
import { startDemoCloud } from '@global-iot/local/fleet/demo-cloud.js';
import { createLogger } from '@global-iot/local/log.js';
import { isMain } from './stats.js';

export async function benchDrain(devices = 300, ratePerSecond = 20): Promise<Record<string, number>> {
  const workDir = mkdtempSync(join(tmpdir(), 'bench-drain-'));
  const cloud = await startDemoCloud({ workDir, log: createLogger('error') });
  try {
    const quiet = { stdout: () => undefined, stderr: () => undefined, stderrIsTty: false };
    const demo = await runFleetDemo(
      cloud,
      { devices, concurrency: 50, certificateMode: 'mixed', protocol: 'mqtt311', workDir, reportPath: join(workDir, 'report.html'), inProcess: false, drain: { ratePerSecond } },
      quiet,
    );
    const drain = demo.drain;
    return {
      'drain.fleet_failed': demo.summary.failed,
      'drain.devices_in_region': drain?.devices.length ?? Number.NaN,
      'drain.moved': drain?.moved ?? Number.NaN,
      'drain.stayed': drain?.stayed ?? Number.NaN,
      'drain.request_rate_per_second': ratePerSecond,
      'drain.moves_per_second': drain?.movesPerSecond ?? Number.NaN,
      'drain.request_to_switch_p50_ms': drain?.moveMs?.p50 ?? Number.NaN,
      'drain.request_to_switch_p99_ms': drain?.moveMs?.p99 ?? Number.NaN,
      'drain.device_move_boot_p50_ms': drain?.bootMs?.p50 ?? Number.NaN,
      'drain.device_move_boot_p99_ms': drain?.bootMs?.p99 ?? Number.NaN,
    };
  } finally {
    await cloud.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const results = await benchDrain();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(40)} ${v}`);
  process.exit(0);
}
