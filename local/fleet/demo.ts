import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type DeploymentConfig, parseDeploymentConfig } from '@global-iot/core/config.js';
import type { LocalCloud } from '../cloud.js';
import type { MqttProtocol } from '@global-iot/device/mqtt.js';
import type { CertificateMode } from '@global-iot/device/provision.js';
import { executeFleetJob, type FleetJob } from './job.js';
import type { FleetRun } from './outcome.js';
import { createProgressBar } from './progress.js';
import { renderReport } from './report.js';
import { runFleetJobInChild } from './spawn.js';
import { type FleetSummary, formatSummary, summarize } from './summary.js';

/**
 * The demo on a running local cloud (started in demo mode with the product wiring): enrol a
 * fleet, provision every device through the whole flow, show progress, print the summary and
 * write the report page.
 */

export interface DemoOptions {
  devices: number;
  concurrency: number;
  certificateMode: CertificateMode | 'mixed';
  protocol: MqttProtocol;
  /** The device files go to `<workDir>/fleet/` (emptied first); the report beside them. */
  workDir: string;
  reportPath: string;
  /** Run the devices in a child process (their own core) or in this one. */
  inProcess: boolean;
  /** The deployment configuration the cloud runs (`--config`): where the registry is. */
  config?: DeploymentConfig;
  /** The cloud's region delays (`--region-delay`): with any, the devices measure their candidates. */
  regionDelaysMs?: Readonly<Record<string, number>>;
}

export const DEFAULT_DEMO_OPTIONS: DemoOptions = {
  devices: 300,
  concurrency: 50,
  certificateMode: 'mixed',
  protocol: 'mqtt311',
  workDir: '.local-cloud',
  reportPath: '.local-cloud/report.html',
  inProcess: false,
};

export interface DemoIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stderrIsTty: boolean;
}

export interface DemoResult {
  run: FleetRun;
  summary: FleetSummary;
  reportPath: string;
  /** 0 when every device was provisioned. */
  exitCode: number;
}

/** The job that provisions a fleet through `cloud`. */
export function fleetJobFor(
  cloud: LocalCloud,
  options: Pick<DemoOptions, 'devices' | 'concurrency' | 'certificateMode' | 'protocol' | 'config' | 'regionDelaysMs'> & { outDir: string; prefix: string; durable: boolean },
): FleetJob {
  if (!cloud.bootstrapUrl || !cloud.dynamo) throw new Error('the local cloud must run the product (bootstrap API and DynamoDB)');
  const regions = cloud.regions.map((r) => r.region);
  const firstRegion = regions[0];
  if (firstRegion === undefined) throw new Error('the local cloud runs no region');
  const { homeRegion, tableName, claimClientIdPrefix, confirmationRuleName } = options.config ?? parseDeploymentConfig({ homeRegion: firstRegion, regions, defaultRegion: firstRegion });
  return {
    count: options.devices,
    prefix: options.prefix,
    concurrency: options.concurrency,
    certificateMode: options.certificateMode,
    protocol: options.protocol,
    bootstrapUrl: `${cloud.bootstrapUrl}/bootstrap`,
    caPath: cloud.paths.rootCa,
    claimCertPath: cloud.paths.claimCert,
    claimKeyPath: cloud.paths.claimKey,
    regionPorts: Object.fromEntries(cloud.regions.map((r) => [r.region, r.port])),
    registry: { endpoint: cloud.dynamo.endpoint, region: homeRegion, tableName },
    outDir: options.outDir,
    durable: options.durable,
    deployment: { claimClientIdPrefix, confirmationRuleName },
    measure: Object.keys(options.regionDelaysMs ?? {}).length > 0,
  };
}

export async function runFleetDemo(cloud: LocalCloud, options: DemoOptions, io: DemoIo): Promise<DemoResult> {
  const outDir = resolve(options.workDir, 'fleet');
  // The devices' files belong to this run's cloud; a previous run's would not verify against it.
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const job = fleetJobFor(cloud, {
    ...options,
    outDir,
    prefix: `sim-${Date.now().toString(36)}`,
    // The simulator keeps nothing worth a crash-safe write; a real device always flushes.
    durable: false,
  });
  io.stderr(`enrolling ${options.devices} devices and provisioning them, ${options.concurrency} at a time, into ${cloud.regions.map((r) => r.region).join(', ')}\n`);
  const bar = createProgressBar({ total: options.devices, write: io.stderr, isTty: io.stderrIsTty, now: Date.now });
  const report = { enrolled: () => bar.start(), progress: (done: number, failed: number) => bar.update(done, failed) };
  const run = options.inProcess ? await executeFleetJob(job, report) : await runFleetJobInChild(job, report);
  bar.finish();
  const summary = summarize(run);
  io.stdout(`\n${formatSummary(summary)}`);
  const reportPath = resolve(options.reportPath);
  await mkdir(dirname(reportPath), { recursive: true });
  await writeFile(reportPath, renderReport({ run, summary, enabledRegions: cloud.regions.map((r) => r.region), generatedAt: new Date() }));
  io.stdout(`\nreport: ${reportPath}\n`);
  return { run, summary, reportPath, exitCode: summary.failed > 0 ? 1 : 0 };
}

