import { type ChildProcess, fork } from 'node:child_process';
import type { ReliabilityCloud } from './cloud.js';
import type { DeviceLimits, DeviceResult, DeviceSpec, MqttTarget } from './device.js';
import { type MemorySample, sampleMemory } from './fleet.js';

/** Runs a fleet in a child process (TypeScript through tsx) while this process hosts the cloud. */

export interface FleetJob {
  readonly bootstrapUrl: string;
  readonly ca: string;
  readonly claim: { readonly cert: string; readonly key: string };
  readonly fleetKeyPem: string;
  readonly targets: Readonly<Record<string, MqttTarget>>;
  readonly specs: readonly DeviceSpec[];
  readonly concurrency: number;
  readonly limits?: DeviceLimits;
  /** Also report progress each time this many more devices are done, however fast they go. */
  readonly progressEvery?: number;
}

export type ParentMessage = { type: 'job'; job: FleetJob } | { type: 'reboot'; thingNames: string[] } | { type: 'exit' };

export type ChildMessage =
  | { type: 'progress'; done: number; secrets: string[] }
  | { type: 'done'; results: DeviceResult[]; wallMs: number }
  | { type: 'rebooted'; connected: number }
  | { type: 'error'; message: string };

export class FleetProcessFailed extends Error {
  override name = 'FleetProcessFailed';
}

export interface ChildFleetRun {
  readonly results: DeviceResult[];
  readonly wallMs: number;
  /** The cloud process's memory, sampled as devices finished. */
  readonly samples: readonly MemorySample[];
  readonly peakRss: number;
  /** The devices' next boot: each connects once more with the certificate it holds. */
  reboot(thingNames: readonly string[]): Promise<number>;
  /** Ends the child process. */
  close(): Promise<void>;
}

export function fleetJob(rc: ReliabilityCloud, specs: readonly DeviceSpec[], concurrency: number, limits?: DeviceLimits): FleetJob {
  const targets: Record<string, MqttTarget> = {};
  for (const endpoint of rc.cloud.regions) targets[endpoint.region] = { address: endpoint.address, port: endpoint.port, servername: endpoint.host };
  return {
    bootstrapUrl: rc.cloud.bootstrapUrl ?? '',
    ca: rc.rootCa,
    claim: rc.claim,
    fleetKeyPem: rc.fleetKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    targets,
    specs,
    concurrency,
    ...(limits ? { limits } : {}),
  };
}

function send(child: ChildProcess, message: ParentMessage): void {
  child.send(message);
}

/**
 * Starts the child, forwards the secrets it reports to `onSecrets`, and samples this process's
 * heap (after a full collection) each time another `sampleEvery` devices have finished.
 */
export function runFleetInChild(
  job: FleetJob,
  options: { sampleEvery: number; onSecrets?: (secrets: readonly string[]) => void; onProgress?: (done: number) => void },
): Promise<ChildFleetRun> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./fleet-child.ts', import.meta.url), [], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const samples: MemorySample[] = [sampleMemory(0)];
    let peakRss = process.memoryUsage().rss;
    let nextSample = options.sampleEvery;
    let failure: string | undefined;
    let done = false;
    let rebooted: ((connected: number) => void) | undefined;
    const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'progress') {
        options.onSecrets?.(message.secrets);
        options.onProgress?.(message.done);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        if (message.done >= nextSample) {
          samples.push(sampleMemory(message.done));
          while (nextSample <= message.done) nextSample += options.sampleEvery;
        }
      } else if (message.type === 'done') {
        done = true;
        resolve({
          results: message.results,
          wallMs: message.wallMs,
          samples,
          peakRss: Math.max(peakRss, process.resourceUsage().maxRSS * 1024),
          reboot: (thingNames) =>
            new Promise((resolveReboot) => {
              rebooted = resolveReboot;
              send(child, { type: 'reboot', thingNames: [...thingNames] });
            }),
          close: async () => {
            send(child, { type: 'exit' });
            await exited;
          },
        });
      } else if (message.type === 'rebooted') {
        rebooted?.(message.connected);
      } else {
        failure = message.message;
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!done) reject(new FleetProcessFailed(failure ?? `the fleet process ended (${signal ?? `exit code ${code ?? '?'}`}) without a result`));
    });
    send(child, { type: 'job', job: { ...job, progressEvery: options.sampleEvery } });
  });
}
