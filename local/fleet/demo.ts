import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type DeploymentConfig, parseDeploymentConfig } from '@global-iot/core/config.js';
import type { DeviceRecord } from '@global-iot/core/registry/index.js';
import type { LocalCloud } from '../cloud.js';
import type { MqttProtocol } from '@global-iot/device/mqtt.js';
import type { CertificateMode } from '@global-iot/device/provision.js';
import { type DrainResult, type DrainSettings, drainDeps, drainResult, drainWithMigration, formatDrain, fullestRegion } from './drain.js';
import { executeFleetJob, type FleetJob, type FleetProgress } from './job.js';
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
  /** `--scenario drain`: after the fleet, drain a region with migration and let its devices move. */
  drain?: DrainSettings;
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
  /** The drain scenario's outcome (`--scenario drain`). */
  drain?: DrainResult;
  reportPath: string;
  /** 0 when every device was provisioned. */
  exitCode: number;
}

/** The configuration the cloud runs when no `--config` was given: its regions, the defaults. */
export function defaultDemoConfig(cloud: LocalCloud): DeploymentConfig {
  const regions = cloud.regions.map((r) => r.region);
  const firstRegion = regions[0];
  if (firstRegion === undefined) throw new Error('the local cloud runs no region');
  return parseDeploymentConfig({ homeRegion: firstRegion, regions, defaultRegion: firstRegion });
}

/** The job that provisions a fleet through `cloud`. */
export function fleetJobFor(
  cloud: LocalCloud,
  options: Pick<DemoOptions, 'devices' | 'concurrency' | 'certificateMode' | 'protocol' | 'config' | 'regionDelaysMs'> & { outDir: string; prefix: string; durable: boolean },
): FleetJob {
  if (!cloud.bootstrapUrl || !cloud.dynamo) throw new Error('the local cloud must run the product (bootstrap API and DynamoDB)');
  const { homeRegion, tableName, claimClientIdPrefix, confirmationRuleName } = options.config ?? defaultDemoConfig(cloud);
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
  const runJob = (j: FleetJob, r: typeof report): Promise<FleetRun> => (options.inProcess ? executeFleetJob(j, r) : runFleetJobInChild(j, r));
  const run = await runJob({ ...job, ...(options.drain ? { keepDevices: true } : {}) }, report);
  bar.finish();
  const summary = summarize(run);
  io.stdout(`\n${formatSummary(summary)}`);
  const drain = options.drain ? await runDrain(cloud, options, options.drain, { job, firstRun: run, runJob, io }) : undefined;
  const reportPath = resolve(options.reportPath);
  await mkdir(dirname(reportPath), { recursive: true });
  await writeFile(reportPath, renderReport({ run, summary, enabledRegions: cloud.regions.map((r) => r.region), generatedAt: new Date(), ...(drain ? { drain } : {}) }));
  io.stdout(`\nreport: ${reportPath}\n`);
  const drainFailed = drain !== undefined && drain.devices.some((d) => d.asked !== 'skipped' && d.now === drain.region);
  return { run, summary, ...(drain ? { drain } : {}), reportPath, exitCode: summary.failed > 0 || drainFailed ? 1 : 0 };
}

/**
 * The drain scenario after the first fleet: the region is drained with migration, its devices
 * boot again (with the keys they kept) and act on the request, and the registry says where each
 * one is now.
 */
async function runDrain(
  cloud: LocalCloud,
  options: DemoOptions,
  settings: DrainSettings,
  context: { job: FleetJob; firstRun: FleetRun; runJob: (job: FleetJob, report: FleetProgress) => Promise<FleetRun>; io: DemoIo },
): Promise<DrainResult> {
  const { io, firstRun } = context;
  const region = settings.region ?? fullestRegion(firstRun);
  if (region === undefined) throw new Error('no device was provisioned: there is no region to drain');
  const thingNames = firstRun.outcomes.filter((o) => o.ok && o.region === region).map((o) => o.thingName);
  const config = options.config ?? defaultDemoConfig(cloud);
  const { deps, close } = drainDeps(cloud, config);
  try {
    io.stderr(`\n$ iot-ops regions drain ${region} --migrate --rate ${settings.ratePerSecond}/s  (${thingNames.length} devices)\n`);
    const asked = await drainWithMigration(deps, region, thingNames, settings.ratePerSecond);
    const bar = createProgressBar({ total: thingNames.length, write: io.stderr, isTty: io.stderrIsTty, now: Date.now, label: 'moving' });
    const secondBoot = await context.runJob(
      { ...context.job, count: thingNames.length, reboot: { thingNames } },
      { enrolled: () => bar.start(), progress: (done, failed) => bar.update(done, failed) },
    );
    bar.finish();
    const records = new Map<string, DeviceRecord>();
    for (const name of thingNames) {
      const record = await deps.registry.get(name);
      if (record) records.set(name, record);
    }
    const result = drainResult({ region, ratePerSecond: settings.ratePerSecond, firstRun, asked: asked.items, askElapsedMs: asked.elapsedMs, secondBoot, records });
    io.stdout(`\n${formatDrain(result)}`);
    return result;
  } finally {
    close();
  }
}

