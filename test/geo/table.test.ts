/**
 * Lookups against the real DB-IP table. The table is built once (about 15 s) into .cache/geo/
 * and reused by later runs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { extractPoint, resolveSourcePackage, SOURCE_IPV4_FILE, SOURCE_IPV6_FILE, ensureGeoTable } from '@global-iot/tools/geo/build.js';
import { formatIpv4 } from '@global-iot/core/geo/address.js';
import { MmdbReader } from '@global-iot/tools/geo/mmdb.js';
import { loadGeoTable, type GeoTable } from '@global-iot/core/geo/index.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

let table: GeoTable;
let tablePath: string;

beforeAll(async () => {
  const result = await ensureGeoTable({ log: (line) => console.log(line) });
  tablePath = result.path;
  table = loadGeoTable(tablePath);
}, 300_000);

interface Box {
  readonly country: string;
  readonly lat: readonly [number, number];
  readonly lon: readonly [number, number];
}

const GERMANY: Box = { country: 'DE', lat: [47.2, 55.1], lon: [5.8, 15.1] };
const JAPAN: Box = { country: 'JP', lat: [24, 46], lon: [122, 154] };
const BRAZIL: Box = { country: 'BR', lat: [-34, 5.5], lon: [-74, -34] };
const AUSTRALIA: Box = { country: 'AU', lat: [-44, -10], lon: [112, 154] };
const INDIA: Box = { country: 'IN', lat: [6, 36], lon: [68, 98] };
const US_EAST: Box = { country: 'US', lat: [24, 47.5], lon: [-85, -66] };

describe('GeoTable on DB-IP Lite City', () => {
  it.each<[string, string, Box]>([
    ['Deutsche Telekom (80.128.0.0/11)', '80.128.0.1', GERMANY],
    ['Deutsche Telekom IPv6 (2003::/19)', '2003:e0::1', GERMANY],
    ['KDDI au (106.128.0.0/10)', '106.128.0.1', JAPAN],
    ['NTT OCN IPv6 (2400:4050::/32)', '2400:4050::1', JAPAN],
    ['a Brazilian cable ISP (201.6.0.0/16)', '201.6.0.1', BRAZIL],
    ['Telstra mobile (1.128.0.0/11)', '1.128.0.1', AUSTRALIA],
    ['Telstra IPv6 (2001:8000::/20)', '2001:8004::1', AUSTRALIA],
    ['Reliance Jio (49.36.0.0/14)', '49.36.0.1', INDIA],
    ['Reliance Jio IPv6 (2405:200::/29)', '2405:200::1', INDIA],
    ['University of Delaware (128.175.0.0/16)', '128.175.0.1', US_EAST],
    ['AWS us-east-1 IPv6 (2600:1f18::/33)', '2600:1f18::1', US_EAST],
  ])('places %s (%s) in the right country and area', (_who, ip, box) => {
    // Act
    const point = table.lookup(ip);

    // Assess
    expect(point?.country).toBe(box.country);
    expect(point?.lat).toBeGreaterThanOrEqual(box.lat[0]);
    expect(point?.lat).toBeLessThanOrEqual(box.lat[1]);
    expect(point?.lon).toBeGreaterThanOrEqual(box.lon[0]);
    expect(point?.lon).toBeLessThanOrEqual(box.lon[1]);
  });

  it('looks up IPv4-mapped and NAT64 addresses in the IPv4 table', () => {
    // Act
    const plain = table.lookup('1.128.0.1');
    const mapped = table.lookup('::ffff:1.128.0.1');
    const mappedHex = table.lookup('::FFFF:0180:0001');
    const nat64 = table.lookup('64:ff9b::1.128.0.1');

    // Assess
    expect(plain?.country).toBe('AU');
    expect(mapped).toEqual(plain);
    expect(mappedHex).toEqual(plain);
    expect(nat64).toEqual(plain);
  });

  it.each(['10.1.2.3', '192.168.0.1', '127.0.0.1', '100.64.0.1', '169.254.169.254', '224.0.0.1', '::1', 'fe80::1', 'fd00::1', '2001:db8::1', '::ffff:10.0.0.1'])(
    'has nothing for the special-purpose address %s',
    (ip) => {
      // Act
      const point = table.lookup(ip);

      // Assess
      expect(point).toBeUndefined();
    },
  );

  it.each(['', '1.2.3', '999.1.1.1', '::g', 'x'.repeat(10_000), '8.8.8.8/32', '[2001:4860::1]', ' 8.8.8.8'])(
    'returns undefined for %j',
    (ip) => {
      // Act
      const point = table.lookup(ip);

      // Assess
      expect(point).toBeUndefined();
    },
  );

  it('agrees with the source databases on random addresses', () => {
    // Prepare: a seeded generator so a failure can be replayed
    let seed = 0x9e3779b9;
    const random32 = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const { dir } = resolveSourcePackage();
    const v4 = MmdbReader.fromBuffer(readFileSync(join(dir, SOURCE_IPV4_FILE)));
    const v6 = MmdbReader.fromBuffer(readFileSync(join(dir, SOURCE_IPV6_FILE)));
    const expected = (reader: MmdbReader, offset: number): unknown => {
      const p = offset < 0 ? undefined : extractPoint(reader.decodeRecord(offset));
      return p === undefined ? undefined : { lat: Math.round(p.lat * 100) / 100, lon: Math.round(p.lon * 100) / 100, country: p.country };
    };
    const mismatches: string[] = [];
    let located = 0;

    // Act
    for (let i = 0; i < 3000; i++) {
      const address = random32();
      const want = expected(v4, v4.findNetwork([address]).dataOffset);
      const got = table.lookupIpv4(address);
      if (want !== undefined) located++;
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(formatIpv4(address));
    }
    // Most of 2000::/3 is unallocated, so aim at the regional registries' blocks too.
    const v6Prefixes = [0x20000000, 0x24000000, 0x26000000, 0x2a000000, 0x28000000];
    let finer = 0;
    for (let i = 0; i < 3000; i++) {
      const prefix = v6Prefixes[i % v6Prefixes.length] ?? 0;
      const hi = (prefix | (random32() >>> (i % 5 === 0 ? 3 : 8))) >>> 0;
      const lo = random32();
      const network = v6.findNetwork([hi, lo, random32(), random32()]);
      // The table keys on 64 bits; networks finer than /64 are checked elsewhere.
      if (network.prefixLength > 64) {
        finer++;
        continue;
      }
      const want = expected(v6, network.dataOffset);
      if (want !== undefined) located++;
      if (JSON.stringify(table.lookupIpv6(hi, lo)) !== JSON.stringify(want)) mismatches.push(`${hi.toString(16)}:${lo.toString(16)}`);
    }

    // Assess
    expect(mismatches).toEqual([]);
    expect(located).toBeGreaterThan(1500);
    expect(finer).toBeLessThan(30);
  });

  it('was built from the installed package', () => {
    // Act
    const { source } = resolveSourcePackage();

    // Assess
    expect(table.header.source).toBe(source);
    expect(table.header.countryCount).toBeGreaterThan(240);
  });
});

describe('geo build command line', () => {
  const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');

  it('returns at once with --if-missing when the table is there', () => {
    // Act
    const run = spawnSync(tsx, ['tools/geo/build.ts', '--if-missing', '--out', join(tablePath, '..')], { cwd: repoRoot, encoding: 'utf8' });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/is up to date/);
  });

  it('refuses an unknown flag', () => {
    // Act
    const run = spawnSync(tsx, ['tools/geo/build.ts', '--if-mising'], { cwd: repoRoot, encoding: 'utf8' });

    // Assess
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/unknown option '--if-mising'/);
  });
});
