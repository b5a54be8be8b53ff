import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { type DeviceEnvironment, type DeviceLimits, type DeviceResult, type DeviceSpec, DEFAULT_LIMITS, runDevice } from './device.js';

/** Runs many devices, a bounded number at a time, and samples this process's memory as it goes. */

export interface MemorySample {
  /** Devices finished when the sample was taken. */
  readonly done: number;
  /** V8 heap in use right after a full garbage collection, bytes. */
  readonly heapUsed: number;
  readonly rss: number;
}

export interface FleetRun {
  readonly results: DeviceResult[];
  readonly wallMs: number;
  readonly samples: readonly MemorySample[];
}

let collector: (() => void) | undefined;

/** A full garbage collection, without needing node --expose-gc on the command line. */
export function collectGarbage(): void {
  if (!collector) {
    setFlagsFromString('--expose-gc');
    collector = runInNewContext('gc') as () => void;
  }
  collector();
}

export function sampleMemory(done: number): MemorySample {
  collectGarbage();
  const usage = process.memoryUsage();
  return { done, heapUsed: usage.heapUsed, rss: usage.rss };
}

export async function runFleet(
  env: DeviceEnvironment,
  specs: readonly DeviceSpec[],
  options: { concurrency: number; limits?: DeviceLimits; sampleEvery?: number; onProgress?: (done: number) => void },
): Promise<FleetRun> {
  const results: DeviceResult[] = new Array<DeviceResult>(specs.length);
  const samples: MemorySample[] = [];
  const started = performance.now();
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      const spec = specs[index];
      if (spec === undefined) return;
      results[index] = await runDevice(env, spec, options.limits ?? DEFAULT_LIMITS);
      done++;
      if (options.sampleEvery && done % options.sampleEvery === 0) samples.push(sampleMemory(done));
      options.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, specs.length) }, worker));
  return { results, wallMs: performance.now() - started, samples };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}
