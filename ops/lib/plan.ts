import { type LeastTime, leastProvisioningTime } from '@global-iot/core/admission/least-time.js';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import { classifyAddress } from '@global-iot/core/geo/address.js';
import { type DeviceLocation, placeDevice } from '@global-iot/core/placement.js';
import { NoEligibleRegion, PinnedRegionNotEnabled } from '@global-iot/core/region-choice.js';
import { regionChooserFor } from '@global-iot/core/region-policy.js';
import type { DeviceRecord, Placement, ProvStatus } from '@global-iot/core/registry/index.js';
import type { PlanInputDevice } from './plan-input.js';

/**
 * A rollout rehearsed on paper: where each device would land under the current configuration
 * (the region policy, residency, the regions drained in the configuration and at run time, the
 * pins of enrolled devices), how many go to each region, and the least time the admission
 * ceilings allow for all of them. The prediction is the model's: a device that measures its
 * candidates may go elsewhere, and admission may send it on (`overflow: next-region`).
 */

export interface PlannedDevice {
  readonly thingName: string;
  readonly sourceIp: string;
  /** The country the geolocation table gives the address, when it gives one. */
  readonly country?: string;
  /** `not-enrolled`, or the record's status. */
  readonly status: ProvStatus | 'not-enrolled';
  /** The region an operator pinned the enrolled device to. */
  readonly pinnedRegion?: string;
  /** Where the device would land; absent when it would get no region (see `note`). */
  readonly region?: string;
  readonly placement?: Placement;
  readonly fallbacks: readonly string[];
  /** Why the device would not provision in this rollout, or what to know about it. */
  readonly note?: string;
}

export interface RolloutPlan {
  readonly devices: readonly PlannedDevice[];
  /** Devices this rollout would provision, per region. */
  readonly perRegion: Readonly<Record<string, number>>;
  readonly leastTime: LeastTime;
  /** Regions drained in the configuration or at run time. */
  readonly draining: readonly string[];
}

export interface PlanDeps {
  readonly config: DeploymentConfig;
  /** The registry's record of a device, if it is enrolled. */
  readonly getRecord: (thingName: string) => Promise<DeviceRecord | undefined>;
  readonly getDrainingRegions: () => Promise<readonly string[]>;
  /** The geolocation table's answer for a public address. */
  readonly lookup: (ip: string) => DeviceLocation | undefined;
}

/** Registry reads in flight at once: a rehearsal of thousands should not take minutes. */
const READ_CONCURRENCY = 16;

/** Statuses in which the bootstrap gives a device no new region. */
const NO_NEW_REGION: Partial<Record<ProvStatus, string>> = {
  provisioned: 'already provisioned: the bootstrap answers 409 until an operator resets it',
  blocked: 'blocked: the bootstrap answers 403',
};

async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function planOne(device: PlanInputDevice, record: DeviceRecord | undefined, location: DeviceLocation | undefined, chooser: ReturnType<ReturnType<typeof regionChooserFor>>): PlannedDevice {
  const base = {
    thingName: device.thingName,
    sourceIp: device.sourceIp,
    ...(location?.country ? { country: location.country } : {}),
    ...(record?.pinned_region ? { pinnedRegion: record.pinned_region } : {}),
  };
  const status = record?.prov_status ?? 'not-enrolled';
  const refusal = record ? NO_NEW_REGION[record.prov_status] : undefined;
  if (refusal !== undefined) return { ...base, status, ...(record?.aws_region ? { region: record.aws_region } : {}), fallbacks: [], note: refusal };
  try {
    const placed = placeDevice({
      record: record ?? { prov_status: 'unprovisioned' },
      location,
      chooser,
      draining: new Set(),
      margin: { ms: 0, ratio: 0 },
    });
    const note = record === undefined ? 'not enrolled: the bootstrap refuses it (401) until it is' : location === undefined ? 'location unknown: the default region' : undefined;
    return { ...base, status, region: placed.region, placement: placed.placement, fallbacks: placed.offered.filter((r) => r !== placed.region), ...(note ? { note } : {}) };
  } catch (error) {
    if (error instanceof NoEligibleRegion || error instanceof PinnedRegionNotEnabled) return { ...base, status, fallbacks: [], note: `no region: ${error.message}` };
    throw error;
  }
}

/** Whether this rollout would give the device a region (not provisioned, not blocked). */
export function takesPart(device: PlannedDevice): boolean {
  return device.status === 'not-enrolled' || NO_NEW_REGION[device.status] === undefined;
}

/** Plans every device; never writes anything. */
export async function planRollout(deps: PlanDeps, devices: readonly PlanInputDevice[]): Promise<RolloutPlan> {
  const runtime = await deps.getDrainingRegions();
  const chooser = regionChooserFor(deps.config)(runtime);
  const records = await mapBounded(devices, READ_CONCURRENCY, (d) => deps.getRecord(d.thingName));
  const planned = devices.map((device, i) => {
    const location = classifyAddress(device.sourceIp) === 'public' ? deps.lookup(device.sourceIp) : undefined;
    return planOne(device, records[i], location, chooser);
  });
  const perRegion: Record<string, number> = {};
  for (const d of planned) {
    if (d.region === undefined || !takesPart(d)) continue;
    perRegion[d.region] = (perRegion[d.region] ?? 0) + 1;
  }
  return {
    devices: planned,
    perRegion,
    leastTime: leastProvisioningTime(perRegion, deps.config.admission),
    draining: [...new Set([...deps.config.draining, ...runtime.filter((r) => deps.config.regions.includes(r))])].sort(),
  };
}
