import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileRttModel, defaultRttTable, RegionNotInRttTable } from '@global-iot/core/network/rtt-model.js';
import { InvalidRttTable, parseRttTable, type RttTable } from '@global-iot/core/network/rtt-table.js';
import { compileRegionPolicy, InvalidRegionPolicy } from '@global-iot/core/region-choice.js';
import { greatCircleKm, REGION_CATALOGUE } from '@global-iot/core/regions.js';
import { buildRttTable, DEFAULT_CSV, DEFAULT_OUT, formatRttTable, InvalidLatencyCsv, parseLatencyCsv } from '@global-iot/tools/network/build-rtt-table.js';

/** Two anchors on the equator 10 degrees apart, each standing in for one region. */
function tinyTable(overrides: Partial<RttTable> = {}): RttTable {
  return {
    ...defaultRttTable(),
    model: { accessMsPer100Km: 1, sameMetroMs: 5, anchorSlackKm: 500 },
    regions: [
      { code: 'us-east-1', standIn: 'A', standInKm: 0 },
      { code: 'eu-west-1', standIn: 'B', standInKm: 0 },
    ],
    anchors: [
      { name: 'A', city: 'a', country: 'AA', lat: 0, lon: 0, rttMs: [null, 50] },
      { name: 'B', city: 'b', country: 'BB', lat: 0, lon: 10, rttMs: [60, null] },
    ],
    ...overrides,
  };
}

describe('the shipped network-distance table', () => {
  it('validates, and covers every region of the catalogue', () => {
    // Prepare
    const table = defaultRttTable();

    // Act
    const covered = new Set(table.regions.map((region) => region.code));

    // Assess
    expect(REGION_CATALOGUE.filter((region) => !covered.has(region.code)).map((region) => region.code)).toEqual([]);
    expect(table.source.licence).toBe('CC BY 4.0');
    expect(table.source.attribution).toMatch(/Microsoft/);
  });

  it('is exactly what the build script makes from the saved CSV, so it can be refreshed and reviewed', () => {
    // Prepare
    const csv = readFileSync(DEFAULT_CSV, 'utf8');

    // Act
    const built = formatRttTable(buildRttTable(csv));

    // Assess
    expect(built).toBe(readFileSync(DEFAULT_OUT, 'utf8'));
  });

  it('stays small enough to ship in the bootstrap function', () => {
    // Prepare / Act
    const bytes = readFileSync(DEFAULT_OUT).length;

    // Assess
    expect(bytes).toBeLessThan(32 * 1024);
  });

  it('stands each AWS region on an anchor in its own metro area', () => {
    // Prepare
    const table = defaultRttTable();

    // Act
    const far = table.regions.filter((region) => region.standInKm > 500).map((region) => `${region.code} ${region.standInKm} km`);

    // Assess
    expect(far).toEqual([]);
  });

  it('rejects a CSV row that does not match the header', () => {
    // Prepare
    const csv = 'Source,X,Y\nX,,3\nY,3\n';

    // Act
    const parse = (): unknown => parseLatencyCsv(csv);

    // Assess
    expect(parse).toThrow(InvalidLatencyCsv);
    expect(parse).toThrow(/row "Y" has 2 cells/);
  });
});

describe('parseRttTable', () => {
  it.each<[string, (table: RttTable) => unknown, RegExp]>([
    ['a figure missing for a region', (t) => ({ ...t, anchors: [{ ...t.anchors[0], rttMs: [null] }, t.anchors[1]] }), /anchors\.0\.rttMs: has 1 figures for 2 regions/],
    ['a blank that is not the stand-in', (t) => ({ ...t, anchors: [t.anchors[0], { ...t.anchors[1], rttMs: [null, null] }] }), /anchors\.1\.rttMs\.0: no figure from B to us-east-1/],
    ['a figure where the anchor is the stand-in', (t) => ({ ...t, anchors: [{ ...t.anchors[0], rttMs: [7, 50] }, t.anchors[1]] }), /anchors\.0\.rttMs\.0: A stands in for us-east-1/],
    ['a round trip of 0 ms', (t) => ({ ...t, anchors: [{ ...t.anchors[0], rttMs: [null, 0] }, t.anchors[1]] }), /anchors\.0\.rttMs\.1/],
    ['a round trip of 5 s', (t) => ({ ...t, anchors: [{ ...t.anchors[0], rttMs: [null, 5000] }, t.anchors[1]] }), /anchors\.0\.rttMs\.1/],
    ['a stand-in that is no anchor', (t) => ({ ...t, regions: [t.regions[0], { ...t.regions[1], standIn: 'C' }] }), /regions\.1\.standIn: no anchor is named "C"/],
    ['an anchor listed twice', (t) => ({ ...t, anchors: [t.anchors[0], { ...t.anchors[1], name: 'A' }] }), /anchor "A" is listed twice/],
    ['a latitude off the Earth', (t) => ({ ...t, anchors: [{ ...t.anchors[0], lat: 91 }, t.anchors[1]] }), /anchors\.0\.lat/],
    ['another format', (t) => ({ ...t, format: 2 }), /format/],
    ['no source', (t) => ({ ...t, source: undefined }), /source/],
  ])('refuses %s, naming where', (_what, breakIt, expected) => {
    // Prepare
    const broken = breakIt(tinyTable());

    // Act
    const parse = (): unknown => parseRttTable(broken);

    // Assess
    expect(parse).toThrow(InvalidRttTable);
    expect(parse).toThrow(expected);
  });
});

describe('compileRttModel', () => {
  it('adds the access term to the backbone figure, and the same-metro figure at the stand-in', () => {
    // Prepare: at A itself, B is 1,112 km away: beyond A + 500 km, so only A counts.
    const model = compileRttModel(parseRttTable(tinyTable()), ['us-east-1', 'eu-west-1']);
    const out = new Float64Array(2);

    // Act
    model.estimate({ lat: 0, lon: 0 }, out);

    // Assess
    expect(Array.from(out)).toEqual([5, 50]);
  });

  it('takes the cheapest of the anchors within the slack of the nearest', () => {
    // Prepare: 4.5 degrees east, A and B are both within 500 km of the nearest.
    const model = compileRttModel(parseRttTable(tinyTable()), ['us-east-1', 'eu-west-1']);
    const point = { lat: 0, lon: 4.5 };
    const toA = greatCircleKm(point, { lat: 0, lon: 0 }) / 100;
    const toB = greatCircleKm(point, { lat: 0, lon: 10 }) / 100;
    const out = new Float64Array(2);

    // Act
    model.estimate(point, out);

    // Assess
    expect(out[0]).toBeCloseTo(Math.min(toA + 5, toB + 60), 9);
    expect(out[1]).toBeCloseTo(Math.min(toA + 50, toB + 5), 9);
    expect(out[1]).toBeCloseTo(toB + 5, 9);
  });

  it('ignores an anchor beyond the slack, however cheap the straight line to it', () => {
    // Prepare: 2 degrees east, A is 222 km away and B 890 km: beyond 222 + 500.
    const model = compileRttModel(parseRttTable(tinyTable()), ['us-east-1', 'eu-west-1']);
    const point = { lat: 0, lon: 2 };
    const out = new Float64Array(2);

    // Act
    model.estimate(point, out);

    // Assess: through B it would be 8.9 + 5 ms; only A counts, 2.2 + 50.
    expect(out[1]).toBeCloseTo(greatCircleKm(point, { lat: 0, lon: 0 }) / 100 + 50, 9);
  });

  it('refuses a region the table does not cover', () => {
    // Prepare
    const table = parseRttTable(tinyTable());

    // Act
    const compile = (): unknown => compileRttModel(table, ['us-east-1', 'ap-south-1']);

    // Assess
    expect(compile).toThrow(RegionNotInRttTable);
    expect(compile).toThrow(/ap-south-1/);
  });

  it('makes a region policy whose table lacks an enabled region invalid, naming the region', () => {
    // Prepare
    const table = parseRttTable(tinyTable());

    // Act
    const compile = (): unknown => compileRegionPolicy({ enabled: ['us-east-1', 'ap-south-1'], defaultRegion: 'us-east-1' }, { rttTable: table });

    // Assess
    expect(compile).toThrow(InvalidRegionPolicy);
    expect(compile).toThrow(/enabled: the network-distance table has no figures for ap-south-1/);
  });

  it('ranks by the given table: the chooser follows the figures, not the map', () => {
    // Prepare: a point next to A, in a table where staying in A's metro (40 ms) costs more
    // than A's backbone to B's region (30 ms).
    const base = tinyTable({ model: { accessMsPer100Km: 1, sameMetroMs: 40, anchorSlackKm: 500 } });
    const table = parseRttTable({ ...base, anchors: [{ ...base.anchors[0], rttMs: [null, 30] }, base.anchors[1]] });
    const chooser = compileRegionPolicy({ enabled: ['us-east-1', 'eu-west-1'], defaultRegion: 'us-east-1' }, { rttTable: table });

    // Act
    const choice = chooser.choose({ location: { lat: 0, lon: 0.1 } });

    // Assess
    expect(choice).toMatchObject({ region: 'eu-west-1', estimatedRttMs: 30, fallbacks: ['us-east-1'] });
  });
});
