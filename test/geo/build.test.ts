import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGeoTable, extractPoint, GeoBuildError, staleReason, type BuildOptions } from '@global-iot/tools/geo/build.js';
import { GeoTable, GEO_TABLE_FILE_NAME } from '@global-iot/core/geo/table.js';
import { buildMmdb, F32, U16, type FixtureNetwork } from './mmdb-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'geo-build-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
function freshDir(): string {
  const dir = join(root, String(dirCount++));
  mkdirSync(dir);
  return dir;
}

/** ip-location-db's flat record layout, with float coordinates as that package stores them. */
function flat(country: string, lat: number, lon: number): FixtureNetwork['record'] {
  return { city: 'somewhere', country_code: country, latitude: new F32(lat), longitude: new F32(lon), postcode: '', state1: '', state2: '', timezone: '' };
}

/** MaxMind's nested layout, with double coordinates. */
function nested(country: string, lat: number, lon: number): FixtureNetwork['record'] {
  return {
    city: { geoname_id: 1, names: { en: 'somewhere' } },
    country: { geoname_id: 2, iso_code: country, names: { en: 'x', de: 'y' } },
    location: { accuracy_radius: new U16(50), latitude: lat, longitude: lon, time_zone: 'Etc/UTC' },
  };
}

const v4Networks: FixtureNetwork[] = [
  { cidr: '1.0.0.0/9', record: flat('AU', -33.87, 151.21) },
  // Same point as the /9 before it: merged into one range.
  { cidr: '1.128.0.0/9', record: flat('AU', -33.8712, 151.2088) },
  { cidr: '2.0.0.0/8', record: flat('FR', 48.86, 2.35) },
  // Country but no coordinates: left out, as it cannot pick a region.
  { cidr: '3.0.0.0/8', record: { country_code: 'US' } },
  { cidr: '4.0.0.0/8', record: { latitude: new F32(1), longitude: new F32(2) } },
  { cidr: '8.8.8.0/24', record: flat('US', 37.42, -122.08) },
];

const v6Networks: FixtureNetwork[] = [
  { cidr: '2003::/19', record: nested('DE', 50.11, 8.68) },
  { cidr: '2400:4050::/32', record: nested('JP', 34.69, 135.5) },
  // Finer than /64: the /64 takes the larger half's record.
  { cidr: '2600:1f18:0:1::/66', record: nested('CA', 45.5, -73.57) },
  { cidr: '2600:1f18:0:1:8000::/65', record: nested('US', 39.04, -77.49) },
];

function writeSources(dir: string, v4: FixtureNetwork[] = v4Networks, v6: FixtureNetwork[] = v6Networks, v6Version: 4 | 6 = 6): void {
  writeFileSync(join(dir, 'dbip-city-ipv4.mmdb'), buildMmdb({ ipVersion: 4, networks: v4 }));
  writeFileSync(join(dir, 'dbip-city-ipv6.mmdb'), buildMmdb({ ipVersion: v6Version, networks: v6 }));
}

function options(sourceDir: string, outDir: string, overrides: Partial<BuildOptions> = {}): BuildOptions & { lines: string[] } {
  const lines: string[] = [];
  let clock = 0;
  return {
    sourceDir,
    source: 'fixture@1.0.0',
    outDir,
    ifMissing: false,
    log: (line) => lines.push(line),
    now: () => (clock += 5),
    lines,
    ...overrides,
  };
}

describe('buildGeoTable', () => {
  it('turns both databases into a merged range table', async () => {
    // Prepare
    const src = freshDir();
    writeSources(src);
    const out = join(freshDir(), 'nested', 'out');
    const opts = options(src, out);

    // Act
    const result = await buildGeoTable(opts);

    // Assess
    const table = GeoTable.fromBuffer(readFileSync(result.path), { verifyChecksum: true });
    expect(result).toMatchObject({ path: join(out, GEO_TABLE_FILE_NAME), skipped: false, countries: 5, fileSize: statSync(result.path).size });
    // IPv4: gap, AU (two /9 merged), FR, gap (3/8 and 4/8 unusable, up to 8.8.7.255), US, gap.
    expect(result.v4Ranges).toBe(6);
    expect(table.lookup('1.200.0.1')).toEqual({ lat: -33.87, lon: 151.21, country: 'AU' });
    expect(table.lookup('2.1.1.1')).toEqual({ lat: 48.86, lon: 2.35, country: 'FR' });
    expect(table.lookup('3.3.3.3')).toBeUndefined();
    expect(table.lookup('4.4.4.4')).toBeUndefined();
    expect(table.lookup('8.8.8.8')).toEqual({ lat: 37.42, lon: -122.08, country: 'US' });
    expect(table.lookup('8.8.9.1')).toBeUndefined();
    expect(table.lookup('2003:1f00::1')).toEqual({ lat: 50.11, lon: 8.68, country: 'DE' });
    expect(table.lookup('2003:2000::1')).toBeUndefined();
    expect(table.lookup('2400:4050:1::1')).toEqual({ lat: 34.69, lon: 135.5, country: 'JP' });
    expect(table.lookup('2600:1f18:0:1::1')).toEqual({ lat: 39.04, lon: -77.49, country: 'US' });
    expect(table.header.source).toBe('fixture@1.0.0');
    expect(opts.lines.join('\n')).toMatch(/built .* in 0\.0 s from fixture@1\.0\.0 .*6 IPv4 ranges.*; 2 records without country or coordinates left out/);
    expect(opts.lines.join('\n')).toMatch(/DB-IP/);
  });

  it('reuses a valid table with --if-missing and rebuilds a stale or damaged one', async () => {
    // Prepare
    const src = freshDir();
    writeSources(src);
    const out = freshDir();
    const path = join(out, GEO_TABLE_FILE_NAME);

    // Act
    const missing = options(src, out, { ifMissing: true });
    const zeroth = await buildGeoTable(missing);
    const reused = options(src, out, { ifMissing: true });
    const first = await buildGeoTable(reused);
    const newerSource = options(src, out, { ifMissing: true, source: 'fixture@2.0.0' });
    const second = await buildGeoTable(newerSource);
    truncateSync(path, 100);
    const damaged = options(src, out, { ifMissing: true, source: 'fixture@2.0.0' });
    const third = await buildGeoTable(damaged);

    // Assess
    expect(zeroth.skipped).toBe(false);
    expect(missing.lines[0]).toMatch(/\(re\)building .*: no table yet/);
    expect(first.skipped).toBe(true);
    expect(reused.lines.join('\n')).toMatch(/is up to date/);
    expect(second.skipped).toBe(false);
    expect(newerSource.lines[0]).toMatch(/\(re\)building .*: built from fixture@1\.0\.0, installed is fixture@2\.0\.0/);
    expect(third.skipped).toBe(false);
    expect(damaged.lines[0]).toMatch(/\(re\)building .*truncated/);
    expect(staleReason(path, 'fixture@2.0.0')).toBeUndefined();
  });

  it('says why a table cannot be reused', () => {
    // Prepare
    const dir = freshDir();
    const notATable = join(dir, 'x.geotable');
    writeFileSync(notATable, 'nope, not a table at all, really not at all; padding padding padding padding');

    // Act
    const missing = staleReason(join(dir, 'missing.geotable'), 'fixture@1.0.0');
    const foreign = staleReason(notATable, 'fixture@1.0.0');
    const folder = staleReason(dir, 'fixture@1.0.0');

    // Assess
    expect(missing).toBe('no table yet');
    expect(foreign).toMatch(/bad magic/);
    expect(folder).toBe('cannot read it (EISDIR)');
  });

  it('waits for another build holding the lock', async () => {
    // Prepare
    const src = freshDir();
    writeSources(src);
    const out = freshDir();
    const lock = join(out, `${GEO_TABLE_FILE_NAME}.lock`);
    writeFileSync(lock, '');
    const released = new Promise<void>((resolve) => {
      setTimeout(() => {
        rmSync(lock);
        resolve();
      }, 300);
    });
    let releasedYet = false;
    void released.then(() => (releasedYet = true));

    // Act
    const result = await buildGeoTable(options(src, out));

    // Assess
    expect(releasedYet).toBe(true);
    expect(result.skipped).toBe(false);
  });

  it('breaks a lock left behind by a dead build', async () => {
    // Prepare
    const src = freshDir();
    writeSources(src);
    const out = freshDir();
    const lock = join(out, `${GEO_TABLE_FILE_NAME}.lock`);
    writeFileSync(lock, '');
    const longAgo = new Date(Date.now() - 60 * 60_000);
    utimesSync(lock, longAgo, longAgo);

    // Act
    const result = await buildGeoTable(options(src, out));

    // Assess
    expect(result.skipped).toBe(false);
    expect(() => statSync(lock)).toThrow(/ENOENT/);
  });

  it('refuses an IPv4-only database as the IPv6 source', async () => {
    // Prepare
    const src = freshDir();
    writeSources(src, v4Networks, v4Networks, 4);

    // Act
    const act = buildGeoTable(options(src, freshDir()));

    // Assess
    await expect(act).rejects.toThrow(GeoBuildError);
    await expect(act).rejects.toThrow(/IPv6 source is an IPv4-only database/);
  });

  it('refuses a record with an unusable country code', async () => {
    // Prepare
    const src = freshDir();
    writeSources(src, [{ cidr: '1.0.0.0/8', record: flat('Australia', -33.87, 151.21) }]);

    // Act
    const act = buildGeoTable(options(src, freshDir()));

    // Assess
    await expect(act).rejects.toThrow(/unusable record .*"country":"Australia"/);
  });

  it('names a missing or broken source file', async () => {
    // Prepare
    const missing = freshDir();
    const broken = freshDir();
    writeSources(broken);
    writeFileSync(join(broken, 'dbip-city-ipv6.mmdb'), 'not an mmdb');

    // Act
    const actMissing = buildGeoTable(options(missing, freshDir()));
    const actBroken = buildGeoTable(options(broken, freshDir()));

    // Assess
    await expect(actMissing).rejects.toThrow(/cannot read .*dbip-city-ipv4\.mmdb/);
    await expect(actBroken).rejects.toThrow(/dbip-city-ipv6\.mmdb is not a usable MaxMind DB/);
  });
});

describe('extractPoint', () => {
  it.each([
    { name: 'a record that is not a map', record: 'x', message: /not a map/ },
    { name: 'a latitude out of range', record: new Map<string, number | string>([['country_code', 'DE'], ['latitude', 91], ['longitude', 0]]), message: /latitude|lat/ },
    { name: 'a string longitude', record: new Map<string, number | string>([['country_code', 'DE'], ['latitude', 1], ['longitude', '0']]), message: /lon/ },
  ])('refuses $name', ({ record, message }) => {
    // Act
    const act = (): unknown => extractPoint(record);

    // Assess
    expect(act).toThrow(GeoBuildError);
    expect(act).toThrow(message);
  });
});
