import type { Measurement } from './measurements.js';
import type { RegionChoice } from './region-choice.js';

/**
 * Lets a device's own handshake times improve on the network-distance model, and nothing more.
 *
 * The regions offered to a device are the chooser's answer: its region first, then its
 * fallbacks. They are already cut down by residency, draining and pins, and measurements are
 * accepted only for them (`parseMeasurements`), so no figure can take a device out of its
 * residency list or into a draining region.
 *
 * The rule. Let N be the chooser's region and F the offered region with the fastest measured
 * handshake (a tie goes to the one offered first). F replaces N only when
 *
 *     measured(N) - measured(F) >= max(marginMs, marginRatio * measured(N))
 *
 * that is, when F is faster by at least `marginMs` and by at least `marginRatio` of N's time. A
 * difference inside the margin is noise, and the model's choice stands. The model's choice also
 * stands when:
 * - N was not measured: there is nothing to show F is better (a device that cannot reach N
 *   falls back to the next region through `preferred-region`, as without measurements);
 * - the chooser's reason is `pinned` (an operator's word) or `preferred` (the device asking
 *   again after its region failed): measurements decide only `nearest` and `default` answers.
 */

export interface MeasurementMargin {
  /** F must be faster than N by at least this many ms. */
  readonly ms: number;
  /** ... and by at least this share of N's measured time (0.1 = 10%). */
  readonly ratio: number;
}

export const DEFAULT_MEASUREMENT_MARGIN: MeasurementMargin = Object.freeze({ ms: 5, ratio: 0.1 });

export interface MeasuredDecision {
  readonly region: string;
  /** `measurement`: the figures moved the device; `model`: the chooser's region stands. */
  readonly basis: 'measurement' | 'model';
  /** The measured handshake to the decided region, when the device sent one. */
  readonly measuredMs?: number;
  /** Why the model's choice stood, when it did and measurements were sent. */
  readonly kept?: 'not-better' | 'nearest-not-measured' | 'pinned' | 'preferred' | 'nearest-fastest';
}

/** The regions a device was offered, in the order offered: what it may measure. */
export function offeredRegions(choice: Pick<RegionChoice, 'region' | 'fallbacks'>): string[] {
  return [choice.region, ...choice.fallbacks];
}

/**
 * Decides between the chooser's region and the device's measurements (already validated
 * against `offeredRegions(choice)`).
 */
export function decideRegion(
  choice: Pick<RegionChoice, 'region' | 'reason' | 'fallbacks'>,
  measurements: readonly Measurement[],
  margin: MeasurementMargin = DEFAULT_MEASUREMENT_MARGIN,
): MeasuredDecision {
  const measured = new Map(measurements.map((m) => [m.region, m.ms]));
  const nearest = choice.region;
  const nearestMs = measured.get(nearest);
  const keep = (kept: NonNullable<MeasuredDecision['kept']>): MeasuredDecision =>
    nearestMs === undefined ? { region: nearest, basis: 'model', kept } : { region: nearest, basis: 'model', measuredMs: nearestMs, kept };

  if (choice.reason === 'pinned' || choice.reason === 'preferred') return keep(choice.reason);
  if (nearestMs === undefined) return keep('nearest-not-measured');

  let fastest = nearest;
  let fastestMs = nearestMs;
  for (const region of offeredRegions(choice)) {
    const ms = measured.get(region);
    if (ms !== undefined && ms < fastestMs) {
      fastest = region;
      fastestMs = ms;
    }
  }
  if (fastest === nearest) return keep('nearest-fastest');
  const needed = Math.max(margin.ms, margin.ratio * nearestMs);
  // Figures are tenths of a ms; the allowance keeps 10% of 100 ms (10.000000000000002) at 10.
  if (nearestMs - fastestMs + 1e-9 < needed) return keep('not-better');
  return { region: fastest, basis: 'measurement', measuredMs: fastestMs };
}
