import * as z from 'zod';
import { ConfigError, InvalidInput, ProvisioningError } from './errors.js';
import { getRegion, isIotRegion } from './regions.js';

/**
 * Which AWS region a device is provisioned into. Runs on every bootstrap request, so everything
 * that depends only on the policy is worked out once in `compileRegionPolicy`, and `choose` only
 * measures distances to the handful of candidate regions.
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
 * 4. With a location: the nearest candidate by great-circle distance. Without one: the default
 *    region if it is a candidate, else the first candidate in `enabled` order.
 * Fallbacks are the next candidates by distance (without a location: the default region first,
 * then `enabled` order), never the chosen region, at most `fallbackCount`. Ties in distance go
 * to the region listed first in `enabled`.
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
  reason: 'pinned' | 'preferred' | 'nearest' | 'default';
  fallbacks: string[];
}

export interface RegionChooser {
  readonly policy: ValidRegionPolicy;
  choose(input: RegionChoiceInput): RegionChoice;
}

const DEG_TO_RAD = Math.PI / 180;
const EARTH_DIAMETER_KM = 2 * 6371.0088;

/** The regions one group of devices may go to, laid out for fast distance scans. */
interface CandidateSet {
  /** In `enabled` order, which is also the tie-break order. */
  readonly codes: readonly string[];
  readonly indexOf: ReadonlyMap<string, number>;
  readonly latRad: Float64Array;
  readonly lonRad: Float64Array;
  readonly cosLat: Float64Array;
  /** Order without a location: the default region first when it is a candidate. */
  readonly stableOrder: readonly string[];
}

function buildCandidateSet(codes: readonly string[], defaultRegion: string): CandidateSet {
  const latRad = new Float64Array(codes.length);
  const lonRad = new Float64Array(codes.length);
  const cosLat = new Float64Array(codes.length);
  codes.forEach((code, i) => {
    const region = getRegion(code);
    latRad[i] = region.lat * DEG_TO_RAD;
    lonRad[i] = region.lon * DEG_TO_RAD;
    cosLat[i] = Math.cos(region.lat * DEG_TO_RAD);
  });
  const stableOrder = codes.includes(defaultRegion)
    ? [defaultRegion, ...codes.filter((code) => code !== defaultRegion)]
    : [...codes];
  return { codes, indexOf: new Map(codes.map((code, i) => [code, i])), latRad, lonRad, cosLat, stableOrder };
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

/**
 * Validates `policy` (throwing `InvalidRegionPolicy` with every problem named) and returns a
 * chooser that applies it. Compile once per policy and reuse the chooser.
 */
export function compileRegionPolicy(policy: unknown): RegionChooser {
  const parsed = regionPolicySchema.safeParse(policy);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(policy)'}: ${issue.message}`);
    throw new InvalidRegionPolicy(problems, { cause: parsed.error });
  }
  const valid = parsed.data;
  const enabled = new Set(valid.enabled);
  const draining = new Set(valid.draining);
  const baseCodes = valid.enabled.filter((code) => !draining.has(code));
  const base = buildCandidateSet(baseCodes, valid.defaultRegion);
  const byCountry = new Map<string, CandidateSet>();
  for (const [country, allowed] of Object.entries(valid.residency)) {
    const allowedSet = new Set(allowed);
    byCountry.set(country, buildCandidateSet(baseCodes.filter((code) => allowedSet.has(code)), valid.defaultRegion));
  }
  const fallbackCount = valid.fallbackCount;

  function choose(input: RegionChoiceInput): RegionChoice {
    const country = input.location === undefined ? undefined : checkLocation(input.location);
    const set = (country === undefined ? undefined : byCountry.get(country)) ?? base;
    if (set.codes.length === 0) {
      throw new NoEligibleRegion(
        `no region may take a device in ${String(country)}: its residency rule allows ${valid.residency[country ?? '']?.join(', ') ?? 'nothing'}, and none of them is taking devices`,
      );
    }

    let chosen: string | undefined;
    let reason: RegionChoice['reason'] = 'nearest';
    const pinned = input.pinnedRegion;
    if (pinned !== undefined) {
      if (!enabled.has(pinned)) {
        throw new PinnedRegionNotEnabled(`the device is pinned to "${pinned}", which the region policy does not enable`);
      }
      if (set.indexOf.has(pinned)) {
        chosen = pinned;
        reason = 'pinned';
      } else if (!draining.has(pinned)) {
        throw new NoEligibleRegion(
          `the device is pinned to ${pinned}, but devices in ${String(country)} may only use ${set.codes.join(', ')}`,
        );
      }
    }
    const preferred = input.preferredRegion;
    if (chosen === undefined && preferred !== undefined && set.indexOf.has(preferred)) {
      chosen = preferred;
      reason = 'preferred';
    }

    if (input.location === undefined) {
      if (chosen === undefined) {
        const first = set.stableOrder[0] ?? set.codes[0] ?? valid.defaultRegion;
        return { region: first, reason: 'default', fallbacks: set.stableOrder.slice(1, 1 + fallbackCount) };
      }
      const picked = chosen;
      return { region: picked, reason, fallbacks: set.stableOrder.filter((code) => code !== picked).slice(0, fallbackCount) };
    }

    const latRad = input.location.lat * DEG_TO_RAD;
    const lonRad = input.location.lon * DEG_TO_RAD;
    const cosLat = Math.cos(latRad);
    const skip = chosen === undefined ? -1 : (set.indexOf.get(chosen) ?? -1);
    // Keep the `want` smallest terms in order; strict `<` keeps the earlier region on a tie.
    const want = chosen === undefined ? 1 + fallbackCount : fallbackCount;
    const bestIndex = new Int32Array(want);
    const bestTerm = new Float64Array(want);
    let kept = 0;
    for (let i = 0; want > 0 && i < set.codes.length; i++) {
      if (i === skip) continue;
      const h = haversineTerm(set, i, latRad, lonRad, cosLat);
      if (kept === want && !(h < (bestTerm[want - 1] ?? Infinity))) continue;
      let j = kept < want ? kept++ : want - 1;
      while (j > 0 && h < (bestTerm[j - 1] ?? Infinity)) {
        bestTerm[j] = bestTerm[j - 1] ?? Infinity;
        bestIndex[j] = bestIndex[j - 1] ?? 0;
        j--;
      }
      bestTerm[j] = h;
      bestIndex[j] = i;
    }
    const ranked: string[] = [];
    for (let r = 0; r < kept; r++) ranked.push(set.codes[bestIndex[r] ?? 0] ?? '');

    if (chosen === undefined) {
      const nearest = ranked[0] ?? valid.defaultRegion;
      return { region: nearest, distanceKm: Math.round(termToKm(bestTerm[0] ?? 0)), reason: 'nearest', fallbacks: ranked.slice(1) };
    }
    const distanceKm = Math.round(termToKm(haversineTerm(set, skip, latRad, lonRad, cosLat)));
    return { region: chosen, distanceKm, reason, fallbacks: ranked };
  }

  return { policy: valid, choose };
}
