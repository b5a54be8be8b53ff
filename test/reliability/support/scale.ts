import * as z from 'zod';

/**
 * How hard the reliability suite pushes. `small` (the default) is what CI runs with every
 * `npm test`: a few hundred devices and short fuzz runs. `full` is the figure: 10,000
 * devices, 100 at a time, and longer fuzz runs (`npm run test:reliability`).
 */
export interface ReliabilityScale {
  readonly name: 'small' | 'full';
  /** Devices in the load run. */
  readonly loadDevices: number;
  /** Devices in flight at once in the load run. */
  readonly loadConcurrency: number;
  /** Devices in each fault run. */
  readonly faultDevices: number;
  /** fast-check runs per hostile-input property. */
  readonly fuzzRuns: number;
  /** Devices per step when the connection is cut after each provisioning step. */
  readonly cutDevicesPerStep: number;
}

const SCALES: Readonly<Record<ReliabilityScale['name'], ReliabilityScale>> = {
  small: { name: 'small', loadDevices: 250, loadConcurrency: 50, faultDevices: 30, fuzzRuns: 60, cutDevicesPerStep: 2 },
  full: { name: 'full', loadDevices: 10_000, loadConcurrency: 100, faultDevices: 200, fuzzRuns: 1_000, cutDevicesPerStep: 10 },
};

export class ScaleSettingError extends Error {
  override name = 'ScaleSettingError';
}

/** Reads RELIABILITY_SCALE; anything but `small` or `full` is an error that names the variable. */
export function reliabilityScale(env: NodeJS.ProcessEnv = process.env): ReliabilityScale {
  const parsed = z.enum(['small', 'full']).safeParse(env['RELIABILITY_SCALE'] ?? 'small');
  if (!parsed.success) throw new ScaleSettingError(`RELIABILITY_SCALE must be "small" or "full", got "${env['RELIABILITY_SCALE'] ?? ''}"`);
  return SCALES[parsed.data];
}
