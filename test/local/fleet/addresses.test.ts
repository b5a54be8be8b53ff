import { describe, expect, it } from 'vitest';
import { loadGeoTable } from '@global-iot/core/geo/index.js';
import { AddressRangeMismatch, checkRanges, DEMO_RANGES, simulatedAddress } from '@global-iot/local/fleet/addresses.js';

describe('demo address ranges', () => {
  it('geolocate where the demo says, on every continent', () => {
    // Prepare
    const geo = loadGeoTable();

    // Act
    const act = () => checkRanges(geo);

    // Assess
    expect(act).not.toThrow();
    expect(new Set(DEMO_RANGES.map((r) => r.continent))).toEqual(
      new Set(['Africa', 'Asia', 'Europe', 'North America', 'Oceania', 'South America']),
    );
  });

  it('are refused when the table places a range elsewhere', () => {
    // Prepare: a table that puts everything in Iceland.
    const geo = { lookup: () => ({ lat: 64.1, lon: -21.9, country: 'IS' }) };

    // Act
    const act = () => checkRanges(geo, DEMO_RANGES.slice(0, 2));

    // Assess
    expect(act).toThrow(AddressRangeMismatch);
    expect(act).toThrow(/8\.8\.8\.1 is in IS, not US/);
  });

  it('give each device an address inside its range, cycling through the ranges', () => {
    // Act
    const first = simulatedAddress(0);
    const wrapped = simulatedAddress(DEMO_RANGES.length);
    const all = Array.from({ length: 1000 }, (_, i) => simulatedAddress(i).ip);

    // Assess
    expect(wrapped.range).toBe(first.range);
    expect(wrapped.ip).not.toBe(first.ip);
    for (const ip of all) {
      const host = Number(ip.split('.')[3]);
      expect(host).toBeGreaterThanOrEqual(1);
      expect(host).toBeLessThanOrEqual(254);
    }
  });

  it('put the first six devices on six continents', () => {
    // Act
    const continents = Array.from({ length: 6 }, (_, i) => simulatedAddress(i).range.continent);

    // Assess
    expect(new Set(continents).size).toBe(6);
  });
});
