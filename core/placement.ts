import { decideRegion, type MeasurementMargin, offeredRegions } from './measured-choice.js';
import { type Measurement, parseMeasurements } from './measurements.js';
import type { RegionChoice, RegionChooser } from './region-choice.js';
import { getRegion, greatCircleKm } from './regions.js';
import { type DeviceRecord, NEAREST, type Placement } from './registry/schema.js';

/**
 * Where a bootstrap request places its device: the region policy's choice (region-choice.ts),
 * then, when the request carries handshake times, the measured-choice rule (measured-choice.ts).
 * The bootstrap runs it on every request (admission may still move or refuse the device there);
 * `ops plan` runs it to predict where a rollout's devices land. The policy's refusals
 * (`NoEligibleRegion`, `PinnedRegionNotEnabled`) and `InvalidMeasurements` reach the caller.
 */

/** Where the device is, when known. */
export interface DeviceLocation {
  readonly lat: number;
  readonly lon: number;
  readonly country?: string;
}
export interface Placed {
  readonly region: string;
  /** Great-circle km to `region`; null when the location is unknown. */
  readonly distance: number | null;
  readonly placement: Placement;
  /** For the log line: the chooser's reason, and why figures did not move the device. */
  readonly reason: string;
  /**
   * The regions this request may send the device to, best first by the model: the chooser's
   * region and its fallbacks (residency, pins and draining applied). Figures are checked against
   * them; a device that resumes has only its region.
   */
  readonly offered: readonly string[];
  /**
   * The regions the answer lists as `candidates`, for the device to measure, and the only ones
   * figures may name: every offered region when figures could change the choice (`nearest` and
   * `default` answers with more than one region), else the chosen region alone.
   */
  readonly candidates: readonly string[];
  /** Where admission may put the device, first choice first (only `region` where it must not move). */
  readonly admissionOrder: readonly string[];
  /** The request's figures (valid, for offered regions), by region. */
  readonly rttMs?: Readonly<Record<string, number>>;
}

export interface PlacementInput {
  readonly record: Pick<DeviceRecord, 'prov_status' | 'aws_region' | 'pinned_region'>;
  readonly location: DeviceLocation | undefined;
  readonly chooser: RegionChooser;
  readonly preferredRegion?: string;
  /** The request's figures as sent (structure already checked by the request schema). */
  readonly measurements?: readonly Measurement[];
  /** Regions draining now: figures for them are set aside (see `usableFigures`). */
  readonly draining: ReadonlySet<string>;
  readonly margin: MeasurementMargin;
}

function distanceTo(location: DeviceLocation | undefined, region: string): number | null {
  return location ? Math.round(greatCircleKm(location, getRegion(region))) : null;
}

/** The region policy's choice. */
function choose(input: Pick<PlacementInput, 'location' | 'chooser' | 'preferredRegion'> & { record: Pick<DeviceRecord, 'pinned_region'> }): RegionChoice {
  const { record, location, preferredRegion } = input;
  return input.chooser.choose({
    ...(location ? { location: { lat: location.lat, lon: location.lon, ...(location.country ? { country: location.country } : {}) } } : {}),
    ...(record.pinned_region ? { pinnedRegion: record.pinned_region } : {}),
    ...(preferredRegion ? { preferredRegion } : {}),
  });
}

/**
 * The figures that count. A region drained between a device's two requests is no longer
 * offered; its figure is set aside rather than refusing the request (the device measured what it
 * was offered, in good faith), and the rest decide. Every other figure must name one of this
 * answer's candidates and be in range (`parseMeasurements`, a 400 otherwise).
 */
function usableFigures(input: PlacementInput, candidates: readonly string[]): Measurement[] {
  const sent = input.measurements ?? [];
  const kept = sent.filter((m) => !input.draining.has(m.region));
  return kept.length === 0 ? [] : parseMeasurements(kept, candidates);
}

const BY_REASON: Readonly<Record<RegionChoice['reason'], Placement>> = { pinned: 'pinned', preferred: 'preferred', nearest: 'model', default: 'default' };

/** Places the device; throws the policy's refusals or `InvalidMeasurements`. */
export function placeDevice(input: PlacementInput): Placed {
  const { record, location } = input;
  // A device the hook already let through stays in its region: its thing and certificate may
  // exist there, and moving it would leave them orphaned.
  if (record.prov_status === 'provisioning' && record.aws_region) {
    const region = record.aws_region;
    const figures = usableFigures(input, [region]);
    return {
      region,
      distance: distanceTo(location, region),
      placement: 'resume',
      reason: 'resume',
      offered: [region],
      candidates: [region],
      admissionOrder: [region],
      ...(figures.length > 0 ? { rttMs: Object.fromEntries(figures.map((m) => [m.region, m.ms])) } : {}),
    };
  }
  const choice = choose(input);
  const offered = offeredRegions(choice);
  // Figures decide only what the model decided; an operator's pin and a device's own request stand.
  const movable = choice.reason === 'nearest' || choice.reason === 'default';
  const candidates = movable && offered.length > 1 ? offered : [choice.region];
  const figures = usableFigures(input, candidates);
  const decision = figures.length > 0 ? decideRegion(choice, figures, input.margin) : undefined;
  const region = decision?.region ?? choice.region;
  return {
    region,
    distance: region === choice.region ? (choice.distanceKm ?? distanceTo(location, region)) : distanceTo(location, region),
    placement: decision?.basis === 'measurement' ? 'measured' : BY_REASON[choice.reason],
    reason: decision?.kept === undefined ? choice.reason : `${choice.reason}, ${decision.kept}`,
    offered,
    candidates,
    admissionOrder: movable ? [region, ...offered.filter((r) => r !== region)] : [region],
    ...(figures.length > 0 ? { rttMs: Object.fromEntries(figures.map((m) => [m.region, m.ms])) } : {}),
  };
}

/** The same placement, moved to `region` (one of `offered`) by admission. */
export function movedTo(placed: Placed, region: string, placement: Placement, reason: string, location: DeviceLocation | undefined): Placed {
  return { ...placed, region, placement, reason, distance: distanceTo(location, region) };
}

/** The offered regions other than the chosen one, in the model's order: the answer's fallbacks. */
export function fallbacksOf(placed: Pick<Placed, 'region' | 'offered'>): string[] {
  return placed.offered.filter((r) => r !== placed.region);
}

/** A move the bootstrap cannot place now; nothing was changed (README, "A move, in two phases"). */
export class MoveNotPlaceable extends Error {
  override name = 'MoveNotPlaceable';
  constructor(
    readonly reason: 'not-enabled' | 'draining' | 'residency' | 'no-other-region',
    message: string,
  ) {
    super(message);
  }
}

export interface MovePlacementInput {
  readonly record: Pick<DeviceRecord, 'thing_name' | 'aws_region' | 'pinned_region' | 'country' | 'move_to' | 'move_region' | 'move_certificate_id'>;
  readonly location: DeviceLocation | undefined;
  /** The region policy with the regions draining now (the bootstrap's chooser). */
  readonly chooser: RegionChooser;
  readonly enabled: readonly string[];
  readonly draining: ReadonlySet<string>;
  /** Country -> the regions its devices may use (the configuration's `residency`). */
  readonly residency: Readonly<Record<string, readonly string[]>>;
}

function moved(region: string, location: DeviceLocation | undefined, reason: string): Placed {
  return { region, distance: distanceTo(location, region), placement: 'moved', reason, offered: [region], candidates: [region], admissionOrder: [region] };
}

/**
 * Where a `moving` device provisions next: the region its move names, or for `nearest` the best
 * region by the region policy now that is not the one it runs in (a pinned device: its pinned
 * region); never its own region, a region
 * that is not enabled or is draining, or one its country's residency rule forbids. A move the hook
 * already let through stays in its region, as a first provisioning does. Figures play no part: a
 * move's target is the operator's, and `nearest` follows the policy (admission may still take the
 * next region of `admissionOrder`).
 */
export function placeMove(input: MovePlacementInput): Placed {
  const { record, location } = input;
  if (record.move_certificate_id !== undefined && record.move_region !== undefined) return moved(record.move_region, location, 'move resumed');
  const country = location?.country ?? record.country;
  const allowed = country !== undefined ? input.residency[country] : undefined;
  const refusal = (region: string): MoveNotPlaceable | undefined => {
    if (!input.enabled.includes(region)) return new MoveNotPlaceable('not-enabled', `${region} is not an enabled region`);
    if (input.draining.has(region)) return new MoveNotPlaceable('draining', `${region} is draining: it takes no devices`);
    if (allowed !== undefined && !allowed.includes(region)) return new MoveNotPlaceable('residency', `devices in ${country ?? '?'} may only use ${allowed.join(', ')}`);
    if (region === record.aws_region) return new MoveNotPlaceable('no-other-region', `${record.thing_name} already runs in ${region}`);
    return undefined;
  };
  const target = record.move_to;
  if (target !== undefined && target !== NEAREST) {
    const refused = refusal(target);
    if (refused) throw refused;
    return moved(target, location, `move to ${target}`);
  }
  // An operator's pin stands for `nearest`: the pinned region or nothing.
  const policy = record.pinned_region !== undefined ? [record.pinned_region] : offeredRegions(choose({ record, location, chooser: input.chooser }));
  const order = policy.filter((region) => refusal(region) === undefined);
  const [region] = order;
  if (region === undefined) throw new MoveNotPlaceable('no-other-region', `no region other than ${record.aws_region ?? '?'} can take ${record.thing_name} now`);
  return { ...moved(region, location, 'move to the nearest other region'), offered: order, admissionOrder: order };
}
