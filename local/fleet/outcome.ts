import type { ProvisionResult, StepName } from '@global-iot/device/provision.js';

/** What happened to one simulated device: the facts the summary and the report are made of. */
export interface DeviceOutcome {
  readonly thingName: string;
  readonly sourceIp: string;
  /** Where the geolocation table puts the source address. */
  readonly location?: { readonly lat: number; readonly lon: number; readonly country: string };
  readonly ok: boolean;
  readonly region?: string;
  /** What the device's run did: `provisioned`, `verified` (a later boot), or a lifecycle outcome (`moved`, `rotated`). */
  readonly result?: ProvisionResult['outcome'];
  /** How the bootstrap chose the region the device was provisioned in (`model`, `measured`, ...). */
  readonly placement?: string;
  /**
   * Milliseconds per step that completed (a retried step counts once, the successful try; a step
   * made twice, as the bootstrap is by a device that measures, counts both).
   */
  readonly steps: Readonly<Partial<Record<StepName, number>>>;
  readonly totalMs: number;
  /** Retries per step (bootstrap attempts, registration tries), when there were any. */
  readonly retries?: Readonly<Partial<Record<StepName, number>>>;
  readonly failure?: {
    readonly step: string;
    readonly name: string;
    readonly code?: string;
    readonly status?: number;
    readonly message: string;
  };
}

export interface FleetRun {
  readonly outcomes: readonly DeviceOutcome[];
  /** Wall-clock time from the first device's start to the last device's end. */
  readonly elapsedMs: number;
  readonly concurrency: number;
  /** CPU time (every thread, user and system) the devices' process spent over `elapsedMs`. */
  readonly cpuMs?: number;
}
