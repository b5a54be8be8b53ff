import { createPrivateKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localDynamoClient } from '../dynamodb.js';
import { loadGeoTable } from '@global-iot/core/geo/index.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import type { MqttProtocol } from '@global-iot/device/mqtt.js';
import type { CertificateMode, ProvisionOptions } from '@global-iot/device/provision.js';
import { checkRanges } from './addresses.js';
import type { FleetRun } from './outcome.js';
import { createFleet, enrollFleet, type FleetDeployment, runFleet, type SimulatedDevice } from './run.js';

/**
 * One fleet run, described by plain data so that it can run in this process or in a child
 * process (where it gets a core of its own, away from the local cloud's event loop).
 */
export interface FleetJob {
  count: number;
  /** Thing names are `<prefix>-00000`...; one prefix per run keeps runs apart in the registry. */
  prefix: string;
  concurrency: number;
  certificateMode: CertificateMode | 'mixed';
  protocol: MqttProtocol;
  bootstrapUrl: string;
  caPath: string;
  claimCertPath: string;
  claimKeyPath: string;
  /** Region -> MQTT port: the local regions share the host `localhost`. */
  regionPorts: Record<string, number>;
  registry: { endpoint: string; region: string; tableName: string };
  outDir: string;
  durable: boolean;
  /** The deployment's settings the devices follow; absent: the configuration's defaults. */
  deployment?: FleetDeployment;
  /**
   * Whether devices measure their candidates. On one machine every region is equally near and a
   * handshake's time is CPU noise, so the demo measures only when regions are delayed.
   */
  measure: boolean;
  /**
   * The devices' bootstrap time-outs and attempts, where a run needs other than the client's
   * defaults (a burst against a local cloud on one small machine answers more slowly than AWS).
   */
  bootstrapTiming?: { requestTimeoutMs?: number; maxAttempts?: number };
  /**
   * Keep each device as a device keeps itself (its signing key on disk), in `<outDir>/devices.json`,
   * so that a later job can boot the same devices again (`reboot`).
   */
  keepDevices?: boolean;
  /** Boot these devices of an earlier job again (kept with `keepDevices`) instead of a new fleet: no enrolment. */
  reboot?: { thingNames: readonly string[] };
  /** Further device options for every device (a scenario's lifecycle settings). */
  provisionOptions?: Partial<ProvisionOptions>;
}

/** One device as `devices.json` keeps it. */
interface KeptDevice {
  readonly thingName: string;
  readonly signingKeyPem: string;
  readonly publicKeyPem: string;
  readonly sourceIp: string;
  readonly location?: SimulatedDevice['location'];
  readonly certificateMode: CertificateMode;
}

const keptDevicesPath = (outDir: string): string => join(outDir, 'devices.json');

async function keepDevices(outDir: string, devices: readonly SimulatedDevice[]): Promise<void> {
  const kept: KeptDevice[] = devices.map((d) => ({
    thingName: d.thingName,
    signingKeyPem: d.signingKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: d.publicKeyPem,
    sourceIp: d.sourceIp,
    ...(d.location ? { location: d.location } : {}),
    certificateMode: d.certificateMode,
  }));
  // Private keys: readable by this user only, as a device's key file is.
  await writeFile(keptDevicesPath(outDir), JSON.stringify(kept), { mode: 0o600 });
}

async function keptDevices(outDir: string, thingNames: readonly string[]): Promise<SimulatedDevice[]> {
  const kept = JSON.parse(await readFile(keptDevicesPath(outDir), 'utf8')) as KeptDevice[];
  const wanted = new Set(thingNames);
  return kept
    .filter((d) => wanted.has(d.thingName))
    .map((d) => ({
      thingName: d.thingName,
      signingKey: createPrivateKey(d.signingKeyPem),
      publicKeyPem: d.publicKeyPem,
      sourceIp: d.sourceIp,
      ...(d.location ? { location: d.location } : {}),
      certificateMode: d.certificateMode,
    }));
}

export interface FleetProgress {
  /** Every device is enrolled; provisioning starts now. */
  enrolled(): void;
  progress(done: number, failed: number): void;
}

export async function executeFleetJob(job: FleetJob, report: FleetProgress): Promise<FleetRun> {
  const geo = loadGeoTable();
  checkRanges(geo);
  const [caPem, claimCertPem, claimKeyPem] = await Promise.all([
    readFile(job.caPath, 'utf8'),
    readFile(job.claimCertPath, 'utf8'),
    readFile(job.claimKeyPath, 'utf8'),
  ]);
  const devices = job.reboot ? await keptDevices(job.outDir, job.reboot.thingNames) : createFleet({ count: job.count, prefix: job.prefix, geo, certificateMode: job.certificateMode });
  if (!job.reboot) {
    if (job.keepDevices) await keepDevices(job.outDir, devices);
    const client = localDynamoClient(job.registry.endpoint, job.registry.region);
    try {
      const claimClientIdPrefix = job.deployment?.claimClientIdPrefix;
      await enrollFleet(new DeviceRegistry({ client, tableName: job.registry.tableName, ...(claimClientIdPrefix ? { claimClientIdPrefix } : {}) }), devices);
    } finally {
      client.destroy();
    }
  }
  report.enrolled();
  return runFleet({
    devices,
    concurrency: job.concurrency,
    bootstrapUrl: new URL(job.bootstrapUrl),
    caPem,
    caPath: job.caPath,
    claim: { certificatePem: claimCertPem, privateKeyPem: claimKeyPem },
    ...(job.deployment ? { deployment: job.deployment } : {}),
    protocol: job.protocol,
    outDir: job.outDir,
    durable: job.durable,
    measure: { enabled: job.measure },
    ...(job.bootstrapTiming ? { bootstrapTiming: job.bootstrapTiming } : {}),
    ...(job.provisionOptions ? { provisionOptions: job.provisionOptions } : {}),
    resolveEndpoint: (region, endpointAddress) => {
      const port = job.regionPorts[region];
      if (port === undefined) throw new Error(`the bootstrap named region ${region}, which the local cloud does not run`);
      return { region, host: endpointAddress, port };
    },
    onDeviceDone: (_outcome, done, failed) => report.progress(done, failed),
  });
}
