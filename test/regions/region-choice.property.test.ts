import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRttModel, defaultRttTable } from '@global-iot/core/network/rtt-model.js';
import { NoEligibleRegion, compileRegionPolicy, type RegionPolicy, type RegionRanking } from '@global-iot/core/region-choice.js';
import { REGION_CATALOGUE, getRegion, greatCircleKm } from '@global-iot/core/regions.js';

const ALL = REGION_CATALOGUE.map((region) => region.code);
// Rounding and the ranking shortcut may differ from the reference figures in the last bits only.
const EPSILON = 1e-6;

/** The reference "how far" for each ranking, computed without the chooser's shortcuts. */
const MODEL = compileRttModel(defaultRttTable(), ALL);
function referenceCost(ranking: RegionRanking, location: { lat: number; lon: number }): (code: string) => number {
  if (ranking === 'great-circle') return (code) => greatCircleKm(location, getRegion(code));
  const out = new Float64Array(ALL.length);
  MODEL.estimate(location, out);
  return (code) => out[ALL.indexOf(code)] ?? Number.NaN;
}
const RANKINGS: RegionRanking[] = ['network', 'great-circle'];

/** Valid policies: a shuffled non-empty subset enabled, some (never all) draining, maybe a DE rule. */
const policyArbitrary: fc.Arbitrary<RegionPolicy> = fc
  .shuffledSubarray(ALL, { minLength: 1 })
  .chain((enabled) =>
    fc.record({
      enabled: fc.constant(enabled),
      defaultRegion: fc.constantFrom(...enabled),
      draining: fc.subarray(enabled, { maxLength: enabled.length - 1 }),
      residency: fc.option(fc.subarray(enabled, { minLength: 1 }), { nil: undefined }).map((allowed): Record<string, string[]> =>
        allowed === undefined ? {} : { DE: allowed },
      ),
      fallbackCount: fc.integer({ min: 0, max: 4 }),
    }),
  );

const locationArbitrary = fc.record({
  lat: fc.double({ min: -90, max: 90, noNaN: true }),
  lon: fc.double({ min: -180, max: 180, noNaN: true }),
  country: fc.constantFrom(undefined, 'DE', 'FR', 'US'),
});

describe('choose: properties over random policies and locations', () => {
  it.each(RANKINGS)('%s: picks a candidate, never a draining region, and no candidate is strictly nearer', (ranking) => {
    fc.assert(
      fc.property(policyArbitrary, locationArbitrary, (policy, rawLocation) => {
        // Prepare
        const chooser = compileRegionPolicy({ ...policy, ranking });
        const { lat, lon, country } = rawLocation;
        const location = country === undefined ? { lat, lon } : { lat, lon, country };
        const draining = new Set(policy.draining);
        const allowed = country === undefined ? undefined : chooser.policy.residency[country];
        const candidates = policy.enabled.filter((code) => !draining.has(code) && (allowed === undefined || allowed.includes(code)));

        // Act
        let choice;
        try {
          choice = chooser.choose({ location });
        } catch (error) {
          // Assess: refusing is right only when residency leaves nothing.
          expect(error).toBeInstanceOf(NoEligibleRegion);
          expect(candidates).toEqual([]);
          return;
        }

        // Assess
        expect(candidates).toContain(choice.region);
        expect(draining.has(choice.region)).toBe(false);
        expect(choice.reason).toBe('nearest');
        const cost = referenceCost(ranking, location);
        for (const code of candidates) {
          expect(cost(code)).toBeGreaterThanOrEqual(cost(choice.region) - EPSILON);
        }
        // Whatever ranks, the answer's figures are map distance and the model's estimate.
        expect(choice.distanceKm).toBe(Math.round(greatCircleKm(location, getRegion(choice.region))));
        expect(choice.estimatedRttMs).toBe(Math.round(referenceCost('network', location)(choice.region)));
      }),
      { numRuns: 300 },
    );
  });

  it.each(RANKINGS)('%s: gives distinct, non-draining fallback candidates, nearest first, none skipped', (ranking) => {
    fc.assert(
      fc.property(
        policyArbitrary,
        locationArbitrary,
        fc.option(fc.constantFrom(...ALL), { nil: undefined }),
        (policy, rawLocation, preferredRegion) => {
          // Prepare
          const chooser = compileRegionPolicy({ ...policy, ranking });
          const location = { lat: rawLocation.lat, lon: rawLocation.lon };
          const draining = new Set(policy.draining);
          const candidates = policy.enabled.filter((code) => !draining.has(code));
          const km = referenceCost(ranking, location);

          // Act
          const choice = chooser.choose({ location, preferredRegion });

          // Assess
          const { fallbacks } = choice;
          expect(new Set(fallbacks).size).toBe(fallbacks.length);
          expect(fallbacks).not.toContain(choice.region);
          expect(fallbacks.length).toBe(Math.min(chooser.policy.fallbackCount, candidates.length - 1));
          for (const code of fallbacks) {
            expect(candidates).toContain(code);
            expect(draining.has(code)).toBe(false);
          }
          for (let i = 1; i < fallbacks.length; i++) {
            expect(km(fallbacks[i] ?? '')).toBeGreaterThanOrEqual(km(fallbacks[i - 1] ?? '') - EPSILON);
          }
          const lastKm = fallbacks.length === 0 ? -Infinity : km(fallbacks[fallbacks.length - 1] ?? '');
          for (const code of candidates) {
            if (code === choice.region || fallbacks.includes(code)) continue;
            expect(km(code)).toBeGreaterThanOrEqual(lastKm - EPSILON);
          }
          if (preferredRegion !== undefined && candidates.includes(preferredRegion)) {
            expect(choice).toMatchObject({ region: preferredRegion, reason: 'preferred' });
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('without a location picks the default region when it is a candidate, else the first candidate', () => {
    fc.assert(
      fc.property(policyArbitrary, (policy) => {
        // Prepare
        const chooser = compileRegionPolicy(policy);
        const draining = new Set(policy.draining);
        const candidates = policy.enabled.filter((code) => !draining.has(code));
        const expected = candidates.includes(policy.defaultRegion) ? policy.defaultRegion : candidates[0];

        // Act
        const choice = chooser.choose({});

        // Assess
        expect(choice.region).toBe(expected);
        expect(choice.reason).toBe('default');
        expect(choice.distanceKm).toBeUndefined();
        expect(choice.fallbacks).toEqual(candidates.filter((code) => code !== expected).slice(0, chooser.policy.fallbackCount));
      }),
      { numRuns: 200 },
    );
  });
});
