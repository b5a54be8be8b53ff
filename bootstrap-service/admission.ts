import { admissionCeiling, admit, type AdmissionDeps, tryAdmit } from '@global-iot/core/admission/limiter.js';
import { takePlace } from '@global-iot/core/admission/retry-queue.js';
import type { AdmissionSettings } from '@global-iot/core/config.js';
import type { DeviceRecord } from '@global-iot/core/registry/index.js';
import { RegionBusy } from './errors.js';
import type { Location } from './geolocate.js';
import { movedTo, type Placed } from '@global-iot/core/placement.js';

/**
 * Quota-aware admission at the bootstrap (core/admission/): each region takes at most its
 * ceiling of new assignments a second, across every bootstrap instance, so the RegisterThing
 * calls that follow stay under AWS's quota. Over the ceiling the device gets a 429 with a
 * Retry-After that spreads the burst, or (`overflow: next-region`) the next region it may use.
 */

/** What the log line says about admission. */
export type AdmissionOutcome = 'off' | 'admitted' | 'held' | 'overflow' | 'kept';

export interface Admitted {
  readonly placed: Placed;
  readonly outcome: AdmissionOutcome;
  /** Admitted just now, with pacing on: its answer names a time in the region's release line. */
  readonly paced?: boolean;
}

/**
 * The region where this device already holds an admitted, unused slot: it was assigned there
 * (by an earlier request) and its ticket is still live, so its RegisterThing is still to come and
 * was already counted. Asking again (the second request with figures, or a retry whose answer
 * was lost) must not count it twice.
 */
export function heldRegion(record: DeviceRecord, nowMs: number): string | undefined {
  if (record.prov_status !== 'assigned' || record.aws_region === undefined) return undefined;
  return (record.ticket_expires_at ?? 0) > nowMs ? record.aws_region : undefined;
}

/**
 * Admits the placement, or throws `RegionBusy` (429) and changes nothing. A device that holds a
 * slot in the placed region is not counted again. A device whose figures move it away from the
 * region it holds tries the new region alone; with no room there it keeps the region it holds
 * (still offered, so residency and draining still allow it) rather than waiting.
 */
export async function admitPlacement(
  deps: AdmissionDeps,
  settings: AdmissionSettings,
  placed: Placed,
  record: DeviceRecord,
  location: Location | undefined,
): Promise<Admitted> {
  if (!settings.enabled) return { placed, outcome: 'off' };
  const held = heldRegion(record, deps.now());
  if (held === placed.region) return { placed, outcome: 'held' };
  const paced = settings.pacing ? { paced: true } : {};
  if (held !== undefined && placed.offered.includes(held)) {
    const attempt = await tryAdmit(deps, settings, placed.region);
    if (attempt.admitted) return { placed, outcome: 'admitted', ...paced };
    const reason = `${placed.reason}; ${placed.region} at its ceiling, kept in ${held}`;
    return { placed: movedTo(placed, held, record.placement ?? 'model', reason, location), outcome: 'kept' };
  }
  const admission = await admit(deps, settings, placed.admissionOrder);
  if (!admission.admitted) {
    const regions = admission.refused.map((r) => r.region).join(', ');
    throw new RegionBusy(`${regions} admitted as many new devices this second as ${admission.refused.length > 1 ? 'their ceilings allow' : 'its ceiling allows'}; retry after ${admission.retryAfterSeconds} s`, admission.retryAfterSeconds);
  }
  if (admission.region === placed.region) return { placed, outcome: 'admitted', ...paced };
  const reason = `${placed.reason}; ${admission.overflowedFrom.join(', ')} at the ceiling`;
  return { placed: movedTo(placed, admission.region, 'overflow', reason, location), outcome: 'overflow', ...paced };
}

/** The most a slow write may add to the lead: a wait longer than this is not pacing any more. */
const MAX_EXPECTED_WRITE_MS = 10_000;

/**
 * An admitted device's time to call RegisterThing (epoch ms): its place in the region's release
 * line (core/admission/retry-queue.ts), at the soonest `registerLeadMs` from now, plus as long
 * as the assignment's write took (`lastWriteMs`, at most 10 s): the place is fixed before the
 * line's own write, and a DynamoDB slow enough to hold that write for seconds (throttled and
 * retried, say) would otherwise send answers out after the times they name, to reach
 * RegisterThing together. Places follow `1 / ceiling` s apart, so the calls of a burst reach AWS
 * IoT at the ceiling's rate however the answers and the steps before RegisterThing bunch. Taken
 * last, after the assignment is written; the device waits, not the function. Undefined when the
 * device is not paced (admission or pacing off, or a slot it already holds).
 */
export async function registerSlot(deps: AdmissionDeps, settings: AdmissionSettings, admitted: Admitted, lastWriteMs = 0): Promise<number | undefined> {
  if (admitted.paced !== true) return undefined;
  const region = admitted.placed.region;
  const expectedWriteMs = Math.min(MAX_EXPECTED_WRITE_MS, Math.max(0, lastWriteMs));
  return takePlace(deps, settings, region, 'release', admissionCeiling(settings, region), deps.now() + settings.registerLeadMs + expectedWriteMs);
}
