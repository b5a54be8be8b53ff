import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NoEligibleRegion, compileRegionPolicy, type RegionPolicy } from '@global-iot/core/region-choice.js';
import { REGION_CATALOGUE, getRegion, greatCircleKm } from '@global-iot/core/regions.js';

const ALL = REGION_CATALOGUE.map((region) => region.code);
// Rounding and the ranking shortcut may differ from greatCircleKm in the last bits only.
const EPSILON_KM = 1e-6;

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
  it('picks a candidate, never a draining region, and no candidate is strictly nearer', () => {
    fc.assert(
      fc.property(policyArbitrary, locationArbitrary, (policy, rawLocation) => {
        // Prepare
        const chooser = compileRegionPolicy(policy);
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
        const chosenKm = greatCircleKm(location, getRegion(choice.region));
        for (const code of candidates) {
          expect(greatCircleKm(location, getRegion(code))).toBeGreaterThanOrEqual(chosenKm - EPSILON_KM);
        }
        expect(choice.distanceKm).toBe(Math.round(chosenKm));
      }),
      { numRuns: 300 },
    );
  });

  it('gives distinct, non-draining fallback candidates, nearest first, none skipped', () => {
    fc.assert(
      fc.property(
        policyArbitrary,
        locationArbitrary,
        fc.option(fc.constantFrom(...ALL), { nil: undefined }),
        (policy, rawLocation, preferredRegion) => {
          // Prepare
          const chooser = compileRegionPolicy(policy);
          const location = { lat: rawLocation.lat, lon: rawLocation.lon };
          const draining = new Set(policy.draining);
          const candidates = policy.enabled.filter((code) => !draining.has(code));
          const km = (code: string): number => greatCircleKm(location, getRegion(code));

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
            expect(km(fallbacks[i] ?? '')).toBeGreaterThanOrEqual(km(fallbacks[i - 1] ?? '') - EPSILON_KM);
          }
          const lastKm = fallbacks.length === 0 ? -Infinity : km(fallbacks[fallbacks.length - 1] ?? '');
          for (const code of candidates) {
            if (code === choice.region || fallbacks.includes(code)) continue;
            expect(km(code)).toBeGreaterThanOrEqual(lastKm - EPSILON_KM);
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
