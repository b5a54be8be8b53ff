import type { AdmissionSettings } from '../config.js';
import { admissionCeiling } from './limiter.js';

/**
 * The least time a set of devices can be provisioned in under the admission ceilings: each
 * region takes at most its ceiling of new devices a second, so its `n` devices need
 * `ceil(n / ceiling)` seconds of admissions; the regions run side by side, so the slowest one
 * sets the whole. A lower bound: it assumes every device asks at the right moment and nothing
 * else uses the quota. With admission off there is no ceiling to wait for (0 s).
 */
export interface RegionTime {
  readonly region: string;
  readonly devices: number;
  /** New devices a second the region admits. */
  readonly ceiling: number;
  readonly seconds: number;
}

export interface LeastTime {
  readonly seconds: number;
  readonly perRegion: readonly RegionTime[];
}

export function leastProvisioningTime(
  devicesPerRegion: Readonly<Record<string, number>>,
  settings: Pick<AdmissionSettings, 'enabled' | 'registerThingQuotaTps' | 'regionQuotaTps' | 'safetyFactor'>,
): LeastTime {
  const perRegion = Object.entries(devicesPerRegion)
    .filter(([, devices]) => devices > 0)
    .map(([region, devices]) => {
      const ceiling = admissionCeiling(settings, region);
      return { region, devices, ceiling, seconds: settings.enabled ? Math.ceil(devices / ceiling) : 0 };
    })
    .sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0));
  return { seconds: Math.max(0, ...perRegion.map((r) => r.seconds)), perRegion };
}
