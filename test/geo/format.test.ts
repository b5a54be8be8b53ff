import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeGeoTable, GeoTableFormatError, readGeoTableHeader, type GeoTableContent } from '@global-iot/core/geo/format.js';
import { GeoTable, GeoTableLoadError, loadGeoTable, resolveGeoTablePath, defaultGeoTablePath } from '@global-iot/core/geo/table.js';
import { A, C, resign, SAMPLE_LOOKUPS, sampleContent } from './sample-table.js';

describe('GeoTable over a small encoded table', () => {
  const table = GeoTable.fromBuffer(encodeGeoTable(sampleContent()));

  it.each(SAMPLE_LOOKUPS)('finds %s', (ip, expected) => {
    // Act
    const found = table.lookup(ip);

    // Assess
    expect(found).toEqual(expected);
  });

  it('exposes the header', () => {
    // Act
    const { header } = table;

    // Assess
    expect(header).toMatchObject({
      formatVersion: 1,
      source: 'fixture@1.0.0',
      v4Count: 6,
      v6Count: 5,
      v6BucketCount: 3,
      pointCount: 5,
      countries: ['DE', 'AU', 'JP', 'BR'],
      v4SourceEpoch: 1_700_000_000,
      v6SourceEpoch: 1_700_000_001,
    });
  });

  it('returns undefined for garbage instead of throwing', () => {
    // Prepare
    const garbage = ['', '1.2.3', '999.1.1.1', '::g', 'a'.repeat(1_000_000), '1.2.3.4\n', '\0'];

    // Act
    const found = garbage.map((ip) => table.lookup(ip));

    // Assess
    expect(found).toEqual(garbage.map(() => undefined));
  });

  it('reads a buffer that is not 8-byte aligned', () => {
    // Prepare
    const bytes = encodeGeoTable(sampleContent());
    const shifted = Buffer.alloc(bytes.length + 1);
    bytes.copy(shifted, 1);

    // Act
    const moved = GeoTable.fromBuffer(shifted.subarray(1));

    // Assess
    expect(moved.lookup('8.8.8.8')).toEqual(C);
  });
});

describe('GeoTable.fromBuffer refusals', () => {
  const good = encodeGeoTable(sampleContent());

  it.each<{ name: string; damage: (b: Buffer) => Buffer; message: RegExp }>([
    { name: 'an empty file', damage: () => Buffer.alloc(0), message: /shorter than a header/ },
    { name: 'another file type', damage: (b) => Buffer.concat([Buffer.from('PK\x03\x04zipfile!'), b.subarray(16)]), message: /bad magic/ },
    { name: 'a newer format version', damage: (b) => (b.writeUInt32LE(2, 8), b), message: /format version 2, this reader supports 1/ },
    { name: 'a truncated file', damage: (b) => b.subarray(0, b.length - 8), message: /header says \d+ bytes but the file has \d+ \(truncated\?\)/ },
    { name: 'a padded file', damage: (b) => Buffer.concat([b, Buffer.alloc(8)]), message: /header says/ },
    { name: 'a damaged header', damage: (b) => (b.writeUInt8(b.readUInt8(66) ^ 1, 66), b), message: /header checksum mismatch/ },
    { name: 'counts that do not fit the file', damage: (b) => resign((b.writeUInt32LE(100, 32), b)), message: /section sizes do not add up/ },
    { name: 'a range count one too high', damage: (b) => resign((b.writeUInt32LE(7, 32), b)), message: /IPv4 bucket index/ },
    { name: 'an odd header size', damage: (b) => resign((b.writeUInt32LE(70, 12), b)), message: /header size 70/ },
    { name: 'a different coordinate scale', damage: (b) => resign((b.writeUInt32LE(10, 48), b)), message: /coordinate scale 10/ },
    { name: 'a lower-case country code', damage: (b) => resign((b.write('de', b.indexOf('DEAUJPBR'), 'latin1'), b)), message: /bad country code "de"/ },
    // With 5 points, the sections after the header are: lat (16 bytes), lon (16), country (8), v4 buckets.
    { name: 'a broken IPv4 bucket index', damage: (b) => (b.writeUInt32LE(1, b.readUInt32LE(12) + 40), b), message: /IPv4 bucket index/ },
    // Bounds past the ranges, or out of order, in the middle of the index: the ends alone look fine.
    { name: 'an IPv4 bucket bound past the ranges', damage: (b) => (b.writeUInt32LE(0xfffffff0, b.readUInt32LE(12) + 40 + 4 * 0x0808), b), message: /IPv4 bucket index/ },
    { name: 'data at point 0', damage: (b) => (b.writeUInt8(1, b.readUInt32LE(12) + 32), b), message: /point 0 must mean "no data"/ },
  ])('refuses $name', ({ damage, message }) => {
    // Prepare
    const bad = damage(Buffer.from(good));

    // Act
    const act = (): unknown => GeoTable.fromBuffer(bad);

    // Assess
    expect(act).toThrow(GeoTableFormatError);
    expect(act).toThrow(message);
    expect(act).toThrow(/rebuild it with `npm run geo:build`/);
  });

  it('refuses a damaged body when asked to verify the checksum', () => {
    // Prepare
    const bad = Buffer.from(good);
    const at = bad.length - 3;
    bad.writeUInt8(bad.readUInt8(at) ^ 0x10, at);

    // Act
    const act = (): unknown => GeoTable.fromBuffer(bad, { verifyChecksum: true });

    // Assess
    expect(act).toThrow(/body checksum mismatch/);
    expect(GeoTable.fromBuffer(good, { verifyChecksum: true }).lookup('1.0.0.1')).toEqual(A);
  });

  it('never throws from a lookup, however the unchecked body is damaged', () => {
    const headerSize = good.readUInt32LE(12);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: headerSize, max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 40 }),
        fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { minLength: 1, maxLength: 20 }),
        (flips, ips) => {
          // Prepare
          const bad = Buffer.from(good);
          for (const [at, value] of flips) bad.writeUInt8(value, at);
          let table: GeoTable;
          try {
            table = GeoTable.fromBuffer(bad);
          } catch (error) {
            // Refusing the file is fine too, as long as it is the format error.
            expect(error).toBeInstanceOf(GeoTableFormatError);
            return;
          }

          // Act
          const found = ips.map((ip) => table.lookup(ip));

          // Assess
          for (const point of found) {
            if (point !== undefined) expect(point.country).toMatch(/^[A-Z]{2}$/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('encodeGeoTable refusals', () => {
  it.each<{ name: string; content: GeoTableContent; message: RegExp }>([
    { name: 'IPv4 ranges not starting at 0.0.0.0', content: sampleContent({ v4Start: Uint32Array.from([1, 2, 3, 4, 5, 6]) }), message: /start at 0\.0\.0\.0/ },
    { name: 'IPv6 ranges not starting at ::', content: sampleContent({ v6Hi: Uint32Array.from([1, 2, 3, 4, 5]) }), message: /start at ::/ },
    { name: 'a bad country code', content: sampleContent({ countries: ['DE', 'AU', 'Japan', 'BR'] }), message: /bad country code "Japan"/ },
    { name: 'too many countries', content: sampleContent({ countries: Array.from({ length: 256 }, () => 'ZZ') }), message: /256 countries/ },
    { name: 'points of different lengths', content: sampleContent({ pointLon: new Int16Array(2) }), message: /differ in length/ },
  ])('refuses $name', ({ content, message }) => {
    // Act
    const act = (): unknown => encodeGeoTable(content);

    // Assess
    expect(act).toThrow(GeoTableFormatError);
    expect(act).toThrow(message);
  });
});

describe('loadGeoTable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'geo-format-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a table once per path', () => {
    // Prepare
    const path = join(dir, 'sample.geotable');
    writeFileSync(path, encodeGeoTable(sampleContent()));
    let reads = 0;
    const readFile = (p: string): Uint8Array => {
      reads++;
      return encodeGeoTable(sampleContent({ source: p }));
    };

    // Act
    const first = loadGeoTable(path, { readFile });
    const second = loadGeoTable(path, { readFile });

    // Assess
    expect(second).toBe(first);
    expect(reads).toBe(1);
    expect(first.lookup('8.8.8.8')).toEqual(C);
  });

  it('names the path and the fix when the file is missing', () => {
    // Prepare
    const path = join(dir, 'missing.geotable');

    // Act
    const act = (): unknown => loadGeoTable(path);

    // Assess
    expect(act).toThrow(GeoTableLoadError);
    expect(act).toThrow(`cannot read the geo table at ${path}: build it with \`npm run geo:build\` or set GEO_DB_PATH`);
  });

  it('refuses a file that is not a table', () => {
    // Prepare
    const path = join(dir, 'not-a-table.geotable');
    writeFileSync(path, 'hello');

    // Act
    const act = (): unknown => loadGeoTable(path);

    // Assess
    expect(act).toThrow(GeoTableFormatError);
  });

  it('takes the path from GEO_DB_PATH, else the repository cache', () => {
    // Act
    const fromEnv = resolveGeoTablePath({ GEO_DB_PATH: '/opt/geo/dbip-city.geotable' });
    const blank = resolveGeoTablePath({ GEO_DB_PATH: '  ' });
    const unset = resolveGeoTablePath({});

    // Assess
    expect(fromEnv).toBe('/opt/geo/dbip-city.geotable');
    expect(blank).toBe(defaultGeoTablePath());
    expect(unset).toMatch(/\/\.cache\/geo\/dbip-city\.geotable$/);
  });

  it('reads the header alone', () => {
    // Act
    const header = readGeoTableHeader(encodeGeoTable(sampleContent()));

    // Assess
    expect(header.source).toBe('fixture@1.0.0');
  });
});
