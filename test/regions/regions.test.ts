import { describe, expect, it } from 'vitest';
import {
  CATALOGUE_SOURCE,
  EARTH_MEAN_RADIUS_KM,
  REGION_CATALOGUE,
  UnknownRegion,
  getRegion,
  greatCircleKm,
  isIotRegion,
} from '@global-iot/core/regions.js';

/** Generous [minLat, maxLat, minLon, maxLon] boxes; a point outside one is surely misplaced. */
const COUNTRY_BOXES: Record<string, [number, number, number, number]> = {
  US: [24, 50, -125, -66], // contiguous states: every US region is there
  CA: [41, 84, -141, -52],
  BR: [-34, 6, -74, -34],
  DE: [47, 55.1, 5.8, 15.1],
  IE: [51.4, 55.4, -10.5, -5.9],
  GB: [49.8, 60.9, -8.7, 1.8],
  FR: [41.3, 51.1, -5.2, 9.6],
  SE: [55.3, 69.1, 10.9, 24.2],
  ES: [35.9, 43.8, -9.4, 4.4],
  BH: [25.5, 26.4, 50.3, 50.9],
  AE: [22.6, 26.1, 51.5, 56.4],
  IN: [6.7, 35.7, 68.1, 97.4],
  HK: [22.15, 22.57, 113.8, 114.45],
  SG: [1.15, 1.48, 103.6, 104.1],
  MY: [0.85, 7.4, 99.6, 119.3],
  JP: [24, 45.6, 122.9, 146],
  KR: [33.1, 38.7, 124.6, 131],
  AU: [-43.7, -10.6, 113, 153.7],
};

describe('REGION_CATALOGUE', () => {
  it('has no duplicate codes and every code is well formed', () => {
    // Prepare
    const codes = REGION_CATALOGUE.map((region) => region.code);

    // Act
    const unique = new Set(codes);

    // Assess
    expect(unique.size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^[a-z]{2}-[a-z]+-\d$/);
  });

  it('holds commercial regions only', () => {
    // Prepare
    const nonCommercial = /^(cn|us-gov|us-iso|eusc)-/;

    // Act
    const found = REGION_CATALOGUE.filter((region) => nonCommercial.test(region.code));

    // Assess
    expect(found).toEqual([]);
  });

  it('has every coordinate within valid bounds, at 2-decimal precision', () => {
    // Prepare
    const entries = REGION_CATALOGUE;

    // Act
    const bad = entries.filter(
      (r) =>
        !Number.isFinite(r.lat) ||
        !Number.isFinite(r.lon) ||
        Math.abs(r.lat) > 90 ||
        Math.abs(r.lon) > 180 ||
        Math.round(r.lat * 100) / 100 !== r.lat ||
        Math.round(r.lon * 100) / 100 !== r.lon,
    );

    // Assess
    expect(bad).toEqual([]);
  });

  it('places every region inside a sanity box for its country', () => {
    // Prepare
    const outside: string[] = [];

    // Act
    for (const region of REGION_CATALOGUE) {
      const box = COUNTRY_BOXES[region.country];
      if (box === undefined) {
        outside.push(`${region.code}: no box for ${region.country}`);
        continue;
      }
      const [minLat, maxLat, minLon, maxLon] = box;
      if (region.lat < minLat || region.lat > maxLat || region.lon < minLon || region.lon > maxLon) {
        outside.push(`${region.code} (${region.lat}, ${region.lon}) outside ${region.country}`);
      }
    }

    // Assess
    expect(outside).toEqual([]);
  });

  it('names every region the way AWS displays it, with an ISO country and a city', () => {
    // Prepare
    const entries = REGION_CATALOGUE;

    // Act
    const bad = entries.filter(
      (r) => !/^[A-Z][A-Za-z .]+ \(.+\)$/.test(r.name) || !/^[A-Z]{2}$/.test(r.country) || r.city.length === 0,
    );

    // Assess
    expect(bad).toEqual([]);
  });

  it('puts us-east-1 in Northern Virginia (Ashburn), not Texas', () => {
    // Prepare
    const ashburn = { lat: 39.04372, lon: -77.48749 }; // GeoNames

    // Act
    const region = getRegion('us-east-1');

    // Assess
    expect(region.name).toBe('US East (N. Virginia)');
    expect(region.lat).toBeGreaterThan(36.54); // Virginia's southern border
    expect(region.lat).toBeLessThan(39.47);
    expect(region.lon).toBeGreaterThan(-83.68);
    expect(region.lon).toBeLessThan(-75.24);
    expect(greatCircleKm(region, ashburn)).toBeLessThan(2);
  });

  it('is frozen', () => {
    // Prepare
    const first = REGION_CATALOGUE[0];

    // Act
    const frozen = Object.isFrozen(REGION_CATALOGUE) && first !== undefined && Object.isFrozen(first);

    // Assess
    expect(frozen).toBe(true);
  });

  it('states its sources', () => {
    // Prepare
    const source = CATALOGUE_SOURCE;

    // Act
    const text = `${source.availability} ${source.coordinates}`;

    // Assess
    expect(text).toContain('GeoNames');
    expect(text).toContain('CC BY 4.0');
    expect(text).toContain('data-ats.iot');
  });
});

describe('isIotRegion and getRegion', () => {
  it('know a catalogue region', () => {
    // Prepare
    const code = 'eu-central-1';

    // Act
    const known = isIotRegion(code);
    const region = getRegion(code);

    // Assess
    expect(known).toBe(true);
    expect(region).toMatchObject({ code, name: 'Europe (Frankfurt)', city: 'Frankfurt am Main', country: 'DE', continent: 'Europe' });
  });

  it.each(['', 'us-east-9', 'US-EAST-1', 'cn-north-1', 'us-gov-west-1', 'ap-southeast-3', 'toString', '__proto__'])(
    'reject %j',
    (code) => {
      // Prepare
      const lookup = (): unknown => getRegion(code);

      // Act
      const known = isIotRegion(code);

      // Assess
      expect(known).toBe(false);
      expect(lookup).toThrow(UnknownRegion);
    },
  );

  it('name the code in the error', () => {
    // Prepare
    const lookup = (): unknown => getRegion('mars-north-1');

    // Act / Assess
    expect(lookup).toThrow(/"mars-north-1"/);
  });
});

describe('greatCircleKm', () => {
  it('measures London to Paris as about 344 km', () => {
    // Prepare
    const london = { lat: 51.5074, lon: -0.1278 };
    const paris = { lat: 48.8566, lon: 2.3522 };

    // Act
    const km = greatCircleKm(london, paris);

    // Assess
    expect(km).toBeGreaterThan(341);
    expect(km).toBeLessThan(346);
  });

  it('is zero for one point and symmetric', () => {
    // Prepare
    const a = { lat: -33.87, lon: 151.21 };
    const b = { lat: 35.69, lon: 139.69 };

    // Act
    const same = greatCircleKm(a, a);
    const ab = greatCircleKm(a, b);
    const ba = greatCircleKm(b, a);

    // Assess
    expect(same).toBe(0);
    expect(ab).toBeCloseTo(ba, 9);
  });

  it('gives half the circumference for antipodal points, never NaN', () => {
    // Prepare
    const a = { lat: 0, lon: 0 };
    const b = { lat: 0, lon: 180 };

    // Act
    const km = greatCircleKm(a, b);

    // Assess
    expect(km).toBeCloseTo(Math.PI * EARTH_MEAN_RADIUS_KM, 6);
  });

  it('crosses the antimeridian the short way', () => {
    // Prepare
    const west = { lat: 0, lon: 179.5 };
    const east = { lat: 0, lon: -179.5 };

    // Act
    const km = greatCircleKm(west, east);

    // Assess
    expect(km).toBeCloseTo((Math.PI / 180) * EARTH_MEAN_RADIUS_KM, 6);
  });
});
