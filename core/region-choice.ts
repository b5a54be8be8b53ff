import * as z from 'zod';
import { ConfigError, InvalidInput, ProvisioningError } from './errors.js';
import { compileRttModel, defaultRttTable, RegionNotInRttTable, type RttModel } from './network/rtt-model.js';
import type { RttTable } from './network/rtt-table.js';
import { type RegionRanking, regionRankingSchema } from './region-ranking.js';
import { getRegion, isIotRegion } from './regions.js';

export { type RegionRanking, regionRankingSchema } from './region-ranking.js';

/**
 * Which AWS region a device is provisioned into. Runs on every bootstrap request, so everything
 * that depends only on the policy is worked out once in `compileRegionPolicy`, and `choose` only
 * estimates the way to the handful of candidate regions.
 *
 * Rules, in order:
 * 1. Candidates are the enabled regions that are not draining. When the device's country has a
 *    residency rule, candidates are cut down to the regions the rule allows; if none is left the
 *    request fails (`NoEligibleRegion`): a device is never sent outside its residency.
 * 2. A pinned region (set by an operator on the device record) wins when it is a candidate.
 *    - draining: ignored, the device goes on to rule 3 (draining means "no new devices");
 *    - not enabled, or not a region at all: `PinnedRegionNotEnabled`, a misconfiguration that
 *      an operator has to fix rather than something to route around;
 *    - enabled but barred by the country's residency rule: `NoEligibleRegion`, because either
 *      way out (ignore the pin, or break residency) would be a silent surprise.
 * 3. A preferred region (sent by a device whose first region failed) wins when it is a
 *    candidate; otherwise it is ignored, since it is the device's word, not the operator's.
 * 4. With a location: the nearest candidate by `ranking`: `network` (the default) ranks by the
 *    round trip the network-distance model estimates (core/network/), `great-circle` by distance
 *    on the map. Without one: the default region if it is a candidate, else the first candidate
 *    in `enabled` order.
 * Fallbacks are the next candidates by the same ranking (without a location: the default region
 * first, then `enabled` order), never the chosen region, at most `fallbackCount`. Ties go to the
 * region listed first in `enabled`. Whatever the ranking, the answer's `distanceKm` is the
 * great-circle distance and `estimatedRttMs` the model's estimate, both to the chosen region.
 * Residency is applied only when the caller knows the country; a location without a country is
 * routed by distance alone.
 */

export const DEFAULT_FALLBACK_COUNT = 2;
export const MAX_FALLBACK_COUNT = 10;

/** The region policy is invalid; raised when the policy is compiled (at start-up). */
export class InvalidRegionPolicy extends ConfigError {
  override name = 'InvalidRegionPolicy';
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: ErrorOptions) {
    super(`invalid region policy: ${problems.join('; ')}`, options);
    this.problems = problems;
  }
}

/** No region may take this device under the policy (residency left no candidate). */
export class NoEligibleRegion extends ProvisioningError {
  override name = 'NoEligibleRegion';
}

/** The device record pins a region the policy does not enable: an operator must fix one of them. */
export class PinnedRegionNotEnabled extends ProvisioningError {
  override name = 'PinnedRegionNotEnabled';
}

/** The location handed to `choose` is not a point on Earth or its country is not ISO alpha-2. */
export class InvalidLocation extends InvalidInput {
  override name = 'InvalidLocation';
}

export const regionPolicySchema = z
  .strictObject({
    /** Regions that take devices, in the operator's order of preference for ties. */
    enabled: z.array(z.string()).min(1, 'enabled must name at least one region'),
    /** Where devices go when their location is unknown. */
    defaultRegion: z.string(),
    /** Enabled regions that take no new devices. */
    draining: z.array(z.string()).default([]),
    /** Country (ISO alpha-2) to the only regions its devices may use. */
    // Keys are checked below: zod's own message for a bad record key does not name the key.
    residency: z.record(z.string(), z.array(z.string()).min(1, 'a residency rule must allow at least one region')).default({}),
    /** How many next-best regions the answer carries. */
    fallbackCount: z.number().int().min(0).max(MAX_FALLBACK_COUNT).default(DEFAULT_FALLBACK_COUNT),
    /** What "nearest" means for a device with a location: estimated round trip, or map distance. */
    ranking: regionRankingSchema.default('network'),
  })
  .superRefine((policy, ctx) => {
    const problem = (path: (string | number)[], message: string): void => {
      ctx.addIssue({ code: 'custom', path, message });
    };
    const checkList = (list: readonly string[], path: string[], mustBeEnabled: ReadonlySet<string> | null): void => {
      const seen = new Set<string>();
      list.forEach((code, index) => {
        if (!isIotRegion(code)) {
          problem([...path, index], `unknown region "${code}": not a commercial AWS region with AWS IoT Core`);
        } else if (seen.has(code)) {
          problem([...path, index], `region "${code}" is listed twice`);
        } else if (mustBeEnabled !== null && !mustBeEnabled.has(code)) {
          problem([...path, index], `region "${code}" is not enabled`);
        }
        seen.add(code);
      });
    };

    checkList(policy.enabled, ['enabled'], null);
    const enabled = new Set(policy.enabled.filter(isIotRegion));
    if (!isIotRegion(policy.defaultRegion)) {
      problem(['defaultRegion'], `unknown region "${policy.defaultRegion}": not a commercial AWS region with AWS IoT Core`);
    } else if (!enabled.has(policy.defaultRegion)) {
      problem(['defaultRegion'], `default region "${policy.defaultRegion}" is not enabled`);
    }
    checkList(policy.draining, ['draining'], enabled);
    const draining = new Set(policy.draining);
    if (enabled.size > 0 && [...enabled].every((code) => draining.has(code))) {
      problem(['draining'], 'every enabled region is draining: no region could take a device');
    }
    for (const [country, allowed] of Object.entries(policy.residency)) {
      if (!/^[A-Z]{2}$/.test(country)) {
        problem(['residency', country], `country "${country}" is not an ISO 3166-1 alpha-2 code in upper case`);
      }
      checkList(allowed, ['residency', country], enabled);
    }
  });

/** A region policy as an operator writes it. */
export type RegionPolicy = z.input<typeof regionPolicySchema>;
/** A validated region policy, defaults filled in. */
export type ValidRegionPolicy = z.output<typeof regionPolicySchema>;

export interface RegionChoiceInput {
  /** Where the device is, when known (from the caller's geolocation). */
  location?: { lat: number; lon: number; country?: string };
  /** Operator-set region from the device record. */
  pinnedRegion?: string;
  /** Region the device asks for, after its first region failed. */
  preferredRegion?: string;
}

export interface RegionChoice {
  region: string;
  /** Great-circle distance to the chosen region in whole km, when the location is known. */
  distanceKm?: number;
  /** The network-distance model's round trip to the chosen region in whole ms, when the location is known. */
  estimatedRttMs?: number;
  reason: 'pinned' | 'preferred' | 'nearest' | 'default';
  fallbacks: string[];
}

export interface RegionChooser {
  readonly policy: ValidRegionPolicy;
  choose(input: RegionChoiceInput): RegionChoice;
}

const DEG_TO_RAD = Math.PI / 180;
const EARTH_DIAMETER_KM = 2 * 6371.0088;

/** The regions one group of devices may go to, laid out for fast scans. */
interface CandidateSet {
  /** In `enabled` order, which is also the tie-break order. */
  readonly codes: readonly string[];
  readonly indexOf: ReadonlyMap<string, number>;
  readonly latRad: Float64Array;
  readonly lonRad: Float64Array;
  readonly cosLat: Float64Array;
  /** Where each candidate sits in the network model's estimates. */
  readonly modelIndex: Int32Array;
  /** Order without a location: the default region first when it is a candidate. */
  readonly stableOrder: readonly string[];
}

function buildCandidateSet(codes: readonly string[], defaultRegion: string, model: RttModel): CandidateSet {
  const latRad = new Float64Array(codes.length);
  const lonRad = new Float64Array(codes.length);
  const cosLat = new Float64Array(codes.length);
  const modelIndex = new Int32Array(codes.length);
  codes.forEach((code, i) => {
    const region = getRegion(code);
    latRad[i] = region.lat * DEG_TO_RAD;
    lonRad[i] = region.lon * DEG_TO_RAD;
    cosLat[i] = Math.cos(region.lat * DEG_TO_RAD);
    modelIndex[i] = model.regions.indexOf(code);
  });
  const stableOrder = codes.includes(defaultRegion)
    ? [defaultRegion, ...codes.filter((code) => code !== defaultRegion)]
    : [...codes];
  return { codes, indexOf: new Map(codes.map((code, i) => [code, i])), latRad, lonRad, cosLat, modelIndex, stableOrder };
}

/** The haversine term: grows with distance, so it ranks regions without asin and sqrt. */
function haversineTerm(set: CandidateSet, i: number, latRad: number, lonRad: number, cosLat: number): number {
  const sinHalfDLat = Math.sin(((set.latRad[i] ?? 0) - latRad) / 2);
  const sinHalfDLon = Math.sin(((set.lonRad[i] ?? 0) - lonRad) / 2);
  return sinHalfDLat * sinHalfDLat + cosLat * (set.cosLat[i] ?? 0) * sinHalfDLon * sinHalfDLon;
}

function termToKm(h: number): number {
  return EARTH_DIAMETER_KM * Math.asin(Math.sqrt(Math.min(1, h)));
}

function checkLocation(location: { lat: number; lon: number; country?: string }): string | undefined {
  const { lat, lon, country } = location;
  if (!Number.isFinite(lat) || lat < -90 || lat > 90) {
    throw new InvalidLocation(`latitude ${String(lat)} is not between -90 and 90`);
  }
  if (!Number.isFinite(lon) || lon < -180 || lon > 180) {
    throw new InvalidLocation(`longitude ${String(lon)} is not between -180 and 180`);
  }
  if (country === undefined) return undefined;
  // A country spelled another way would slip past its residency rule, so it is refused.
  if (!/^[A-Za-z]{2}$/.test(country)) {
    throw new InvalidLocation(`country "${country}" is not an ISO 3166-1 alpha-2 code`);
  }
  return country.toUpperCase();
}

/** One device's view of a candidate set: a score per candidate (lower is nearer), distance and estimate on demand. */
interface Scored {
  readonly score: Float64Array;
  km(i: number): number;
  rttMs(i: number): number;
}

function scoreCandidates(
  set: CandidateSet,
  location: { lat: number; lon: number },
  model: RttModel,
  ranking: RegionRanking,
): Scored {
  const latRad = location.lat * DEG_TO_RAD;
  const lonRad = location.lon * DEG_TO_RAD;
  const cosLat = Math.cos(latRad);
  const estimates = new Float64Array(model.regions.length);
  model.estimate(location, estimates);
  const rttMs = (i: number): number => estimates[set.modelIndex[i] ?? -1] ?? Infinity;
  const score = new Float64Array(set.codes.length);
  for (let i = 0; i < set.codes.length; i++) {
    score[i] = ranking === 'network' ? rttMs(i) : haversineTerm(set, i, latRad, lonRad, cosLat);
  }
  return { score, km: (i) => termToKm(haversineTerm(set, i, latRad, lonRad, cosLat)), rttMs };
}

/** The indexes of the `want` lowest scores, lowest first, `skip` left out; strict `<` keeps the earlier on a tie. */
function lowest(score: Float64Array, want: number, skip: number): number[] {
  const bestIndex = new Int32Array(want);
  const bestScore = new Float64Array(want);
  let kept = 0;
  for (let i = 0; want > 0 && i < score.length; i++) {
    if (i === skip) continue;
    const s = score[i] ?? Infinity;
    if (kept === want && !(s < (bestScore[want - 1] ?? Infinity))) continue;
    let j = kept < want ? kept++ : want - 1;
    while (j > 0 && s < (bestScore[j - 1] ?? Infinity)) {
      bestScore[j] = bestScore[j - 1] ?? Infinity;
      bestIndex[j] = bestIndex[j - 1] ?? 0;
      j--;
    }
    bestScore[j] = s;
    bestIndex[j] = i;
  }
  return Array.from(bestIndex.subarray(0, kept));
}

/** Compiles the network model for `codes`, reporting a region it lacks as a policy problem. */
function modelFor(codes: readonly string[], table: RttTable): RttModel {
  try {
    return compileRttModel(table, codes);
  } catch (error) {
    if (error instanceof RegionNotInRttTable) throw new InvalidRegionPolicy([`enabled: ${error.message}`], { cause: error });
    throw error;
  }
}

export interface CompileOptions {
  /** The network-distance table; the one that ships with the product unless given. */
  rttTable?: RttTable;
}

/**
 * Validates `policy` (throwing `InvalidRegionPolicy` with every problem named) and returns a
 * chooser that applies it. Compile once per policy and reuse the chooser.
 */
export function compileRegionPolicy(policy: unknown, options: CompileOptions = {}): RegionChooser {
  const parsed = regionPolicySchema.safeParse(policy);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(policy)'}: ${issue.message}`);
    throw new InvalidRegionPolicy(problems, { cause: parsed.error });
  }
  const valid = parsed.data;
  const enabled = new Set(valid.enabled);
  const draining = new Set(valid.draining);
  const baseCodes = valid.enabled.filter((code) => !draining.has(code));
  const model = modelFor(baseCodes, options.rttTable ?? defaultRttTable());
  const base = buildCandidateSet(baseCodes, valid.defaultRegion, model);
  const byCountry = new Map<string, CandidateSet>();
  for (const [country, allowed] of Object.entries(valid.residency)) {
    const allowedSet = new Set(allowed);
    byCountry.set(country, buildCandidateSet(baseCodes.filter((code) => allowedSet.has(code)), valid.defaultRegion, model));
  }
  const fallbackCount = valid.fallbackCount;

  /** Rules 1 to 3: the candidate set, and the pinned or preferred region when one wins. */
  function preselect(input: RegionChoiceInput): { set: CandidateSet; chosen?: string; reason: RegionChoice['reason'] } {
    const country = input.location === undefined ? undefined : checkLocation(input.location);
    const set = (country === undefined ? undefined : byCountry.get(country)) ?? base;
    if (set.codes.length === 0) {
      throw new NoEligibleRegion(
        `no region may take a device in ${String(country)}: its residency rule allows ${valid.residency[country ?? '']?.join(', ') ?? 'nothing'}, and none of them is taking devices`,
      );
    }
    const pinned = input.pinnedRegion;
    if (pinned !== undefined) {
      if (!enabled.has(pinned)) {
        throw new PinnedRegionNotEnabled(`the device is pinned to "${pinned}", which the region policy does not enable`);
      }
      if (set.indexOf.has(pinned)) return { set, chosen: pinned, reason: 'pinned' };
      if (!draining.has(pinned)) {
        throw new NoEligibleRegion(`the device is pinned to ${pinned}, but devices in ${String(country)} may only use ${set.codes.join(', ')}`);
      }
    }
    const preferred = input.preferredRegion;
    if (preferred !== undefined && set.indexOf.has(preferred)) return { set, chosen: preferred, reason: 'preferred' };
    return { set, reason: 'nearest' };
  }

  function choose(input: RegionChoiceInput): RegionChoice {
    const { set, chosen, reason } = preselect(input);
    if (input.location === undefined) {
      if (chosen === undefined) {
        const first = set.stableOrder[0] ?? set.codes[0] ?? valid.defaultRegion;
        return { region: first, reason: 'default', fallbacks: set.stableOrder.slice(1, 1 + fallbackCount) };
      }
      return { region: chosen, reason, fallbacks: set.stableOrder.filter((code) => code !== chosen).slice(0, fallbackCount) };
    }

    const scored = scoreCandidates(set, input.location, model, valid.ranking);
    const skip = chosen === undefined ? -1 : (set.indexOf.get(chosen) ?? -1);
    const ranked = lowest(scored.score, chosen === undefined ? 1 + fallbackCount : fallbackCount, skip);
    const pick = chosen === undefined ? (ranked.shift() ?? 0) : skip;
    return {
      region: set.codes[pick] ?? valid.defaultRegion,
      distanceKm: Math.round(scored.km(pick)),
      estimatedRttMs: Math.round(scored.rttMs(pick)),
      reason,
      fallbacks: ranked.map((i) => set.codes[i] ?? ''),
    };
  }

  return { policy: valid, choose };
}
