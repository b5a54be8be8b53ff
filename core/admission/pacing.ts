import type { RegionAdmission } from './limiter.js';

/**
 * Pacing within the second. The limiter bounds each calendar second, which alone lets the last
 * devices of one second and the first of the next arrive together: twice the ceiling at once,
 * more than AWS's RegisterThing quota takes in a burst. Releasing the n-th admitted device of a
 * second (n - 1) / ceiling of a second after the second began spaces them evenly, so their
 * RegisterThing calls follow at the rate the ceiling means. A device admitted after its slot has
 * passed waits for nothing.
 */
export function pacedReleaseMs(slot: Pick<RegionAdmission, 'second' | 'count' | 'ceiling'>): number {
  return slot.second * 1000 + Math.floor(((slot.count - 1) * 1000) / slot.ceiling);
}
