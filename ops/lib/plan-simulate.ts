import { generateKeyPairSync } from 'node:crypto';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import type { BootstrapCallResult } from './bootstrap-call.js';
import { type PlannedDevice, type RolloutPlan, takesPart } from './plan.js';

/**
 * `iot-ops plan --simulate`: the rollout through the local cloud, to compare with the plan. Each
 * device of the plan is enrolled under a rehearsal name of its own (`<run>-<n>`, with a fresh
 * Ed25519 key and the real device's pin), so that no real record changes, and asks the bootstrap
 * for a region from its address, all of them at once (up to `concurrency`), coming back as
 * told by each Retry-After, as devices do. The rehearsal devices stay in the local registry,
 * assigned; their tickets expire unused.
 */

export interface SimulationDeps {
  readonly registry: Pick<DeviceRegistry, 'enroll'>;
  readonly call: (body: unknown, sourceIp: string) => Promise<BootstrapCallResult>;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export interface SimulationOptions {
  /** Prefix of the rehearsal names, unique per run. */
  readonly runId: string;
  readonly concurrency: number;
  /** Requests per device, refusals included. */
  readonly maxAttempts: number;
}

export interface SimulatedDevice {
  readonly thingName: string;
  readonly rehearsalName: string;
  readonly predicted?: string;
  readonly actual?: string;
  readonly placement?: string;
  readonly attempts: number;
  /** Answers that said come back later (429 or 503 with Retry-After). */
  readonly refusals: number;
  /** The bootstrap's last refusal, when the device got no region. */
  readonly error?: string;
}

export interface Simulation {
  readonly devices: readonly SimulatedDevice[];
  readonly elapsedMs: number;
  readonly matched: number;
  /** Devices whose region differs from the plan's, or that got none. */
  readonly mismatched: readonly SimulatedDevice[];
  readonly retryAfterSeconds: readonly number[];
}

async function runOne(deps: SimulationDeps, options: SimulationOptions, planned: PlannedDevice, index: number, waits: number[]): Promise<SimulatedDevice> {
  const rehearsalName = `${options.runId}-${String(index).padStart(5, '0')}`;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await deps.registry.enroll({
    thingName: rehearsalName,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ...(planned.pinnedRegion ? { pinnedRegion: planned.pinnedRegion } : {}),
  });
  const base = { thingName: planned.thingName, rehearsalName, ...(planned.region ? { predicted: planned.region } : {}) };
  let refusals = 0;
  let attempts = 0;
  let timestamp = 0;
  for (;;) {
    attempts += 1;
    timestamp = Math.max(deps.now(), timestamp + 1);
    let answer: BootstrapCallResult;
    try {
      answer = await deps.call(signedBootstrapRequest(privateKey, rehearsalName, timestamp), planned.sourceIp);
    } catch (error) {
      return { ...base, attempts, refusals, error: error instanceof Error ? error.message : String(error) };
    }
    if (answer.ok) return { ...base, actual: answer.region, ...(answer.placement ? { placement: answer.placement } : {}), attempts, refusals };
    const seconds = answer.status === 429 || answer.status === 503 ? answer.retryAfterSeconds : undefined;
    if (seconds !== undefined) {
      refusals += 1;
      waits.push(seconds);
    }
    if (seconds === undefined || attempts >= options.maxAttempts) return { ...base, attempts, refusals, error: `${answer.status} ${answer.code}` };
    await deps.sleep(seconds * 1000);
  }
}

/** Runs the plan's devices through the bootstrap; never touches a real device's record. */
export async function simulateRollout(deps: SimulationDeps, plan: RolloutPlan, options: SimulationOptions): Promise<Simulation> {
  const devices = plan.devices.filter(takesPart);
  const results: SimulatedDevice[] = new Array<SimulatedDevice>(devices.length);
  const waits: number[] = [];
  const started = deps.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < devices.length) {
      const index = next++;
      results[index] = await runOne(deps, options, devices[index] as PlannedDevice, index, waits);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, devices.length)) }, worker));
  const mismatched = results.filter((d) => d.actual === undefined || d.actual !== d.predicted);
  return { devices: results, elapsedMs: deps.now() - started, matched: results.length - mismatched.length, mismatched, retryAfterSeconds: waits };
}
