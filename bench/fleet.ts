/**
 * Fleet benchmark (issue: device client and npm start). 1,000 simulated devices, 50 at a time,
 * through the whole flow against the local cloud running the product: HTTPS bootstrap, MQTT over
 * mutual TLS (aws-crt), CreateCertificateFromCsr / CreateKeysAndCertificate (half each),
 * RegisterThing with the pre-provisioning hook, storage, reconnection with the new certificate.
 * The devices run in a child process (a core of their own), the local cloud in this one.
 *
 *   npx tsx bench/fleet.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fleetJobFor } from '../device/fleet/demo.js';
import { startDemoCloud } from '../device/fleet/demo-cloud.js';
import { runFleetJobInChild } from '../device/fleet/spawn.js';
import { summarize } from '../device/fleet/summary.js';
import { createLogger } from '../local/log.js';
import { isMain } from './stats.js';

const round = (value: number): number => Math.round(value * 10) / 10;

export async function benchFleet(devices = 1_000, concurrency = 50): Promise<Record<string, number>> {
  const workDir = mkdtempSync(join(tmpdir(), 'bench-fleet-'));
  const log = createLogger('error');
  const cloud = await startDemoCloud({ workDir, log });
  try {
    const job = fleetJobFor(cloud, {
      devices,
      concurrency,
      certificateMode: 'mixed',
      protocol: 'mqtt311',
      outDir: join(workDir, 'fleet'),
      prefix: 'bench',
      durable: false,
    });
    // The cloud's CPU is counted from the end of enrolment, as the devices' is from their start.
    let cloudCpuAtStart: NodeJS.CpuUsage | undefined;
    const run = await runFleetJobInChild(job, {
      enrolled: () => {
        cloudCpuAtStart = process.cpuUsage();
      },
      progress: () => undefined,
    });
    const cloudCpu = process.cpuUsage(cloudCpuAtStart);
    const cloudCpuMs = (cloudCpu.user + cloudCpu.system) / 1000;
    const summary = summarize(run);
    const results: Record<string, number> = {
      'fleet.devices': summary.devices,
      'fleet.concurrency': concurrency,
      'fleet.failed': summary.failed,
      'fleet.devices_per_second': summary.devicesPerSecond,
      'fleet.end_to_end_p50_ms': summary.perStep.total?.p50Ms ?? Number.NaN,
      'fleet.end_to_end_p99_ms': summary.perStep.total?.p99Ms ?? Number.NaN,
      // CPU per provisioned device, all threads: what bounds throughput on a small machine.
      'fleet.cloud_cpu_ms_per_device': round(cloudCpuMs / devices),
      'fleet.device_cpu_ms_per_device': round((run.cpuMs ?? Number.NaN) / devices),
      'fleet.cpu_ms_per_device': round((cloudCpuMs + (run.cpuMs ?? Number.NaN)) / devices),
    };
    for (const [step, figures] of Object.entries(summary.perStep)) {
      if (step === 'total') continue;
      results[`fleet.${step}_p50_ms`] = figures.p50Ms;
      results[`fleet.${step}_p99_ms`] = figures.p99Ms;
    }
    return results;
  } finally {
    await cloud.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const results = await benchFleet();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(40)} ${v}`);
  // The CRT lives in the child; exit all the same so no straggling handle holds the benchmark.
  process.exit(0);
}
