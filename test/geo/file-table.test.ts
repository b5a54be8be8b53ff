import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeGeoTable, GeoTableFormatError } from '@global-iot/core/geo/format.js';
import { openGeoTable } from '@global-iot/core/geo/file-table.js';
import { GeoTable, GeoTableLoadError, loadGeoTable, resolveGeoTablePath } from '@global-iot/core/geo/table.js';
import { C, resign, SAMPLE_LOOKUPS, sampleContent } from './sample-table.js';

/**
 * The file-backed table (the bootstrap Lambda's) must answer exactly as the in-memory one, refuse
 * what it refuses, and never throw from a lookup, even when the file changes under it.
 */

const dir = mkdtempSync(join(tmpdir(), 'geo-file-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function writeTable(bytes: Uint8Array): string {
  const path = join(dir, `t${files++}.geotable`);
  writeFileSync(path, bytes);
  return path;
}

describe('openGeoTable over a small table', () => {
  const table = openGeoTable(writeTable(encodeGeoTable(sampleContent())));

  it.each(SAMPLE_LOOKUPS)('finds %s', (ip, expected) => {
    // Act
    const found = table.lookup(ip);

    // Assess
    expect(found).toEqual(expected);
  });

  it('answers as the in-memory table for any address', () => {
    // Prepare
    const memory = GeoTable.fromBuffer(encodeGeoTable(sampleContent()));

    // Act, Assess
    fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (ip) => {
      expect(table.lookup(ip)).toEqual(memory.lookup(ip));
    }), { numRuns: 2_000 });
  });

  it('opens a path once per process', () => {
    // Prepare
    const path = writeTable(encodeGeoTable(sampleContent()));

    // Act
    const first = openGeoTable(path);
    const second = openGeoTable(path);

    // Assess
    expect(second).toBe(first);
  });
});

describe('openGeoTable refusals', () => {
  const good = encodeGeoTable(sampleContent());

  it.each<{ name: string; damage: (b: Buffer) => Buffer; message: RegExp }>([
    { name: 'an empty file', damage: () => Buffer.alloc(0), message: /shorter than a header/ },
    { name: 'another file type', damage: (b) => Buffer.concat([Buffer.from('PK\x03\x04zipfile!'), b.subarray(16)]), message: /bad magic/ },
    { name: 'a truncated file', damage: (b) => b.subarray(0, b.length - 8), message: /header says \d+ bytes but the file has \d+ \(truncated\?\)/ },
    { name: 'a damaged header', damage: (b) => (b.writeUInt8(b.readUInt8(66) ^ 1, 66), b), message: /header checksum mismatch/ },
    { name: 'a header size past the file', damage: (b) => resign((b.writeUInt32LE(b.length + 8, 12), b)), message: /header size|header checksum/ },
    { name: 'a lower-case country code', damage: (b) => resign((b.write('de', b.indexOf('DEAUJPBR'), 'latin1'), b)), message: /bad country code "de"/ },
    { name: 'a broken IPv4 bucket index', damage: (b) => (b.writeUInt32LE(1, b.readUInt32LE(12) + 40), b), message: /IPv4 bucket index/ },
    { name: 'an IPv4 bucket bound past the ranges', damage: (b) => (b.writeUInt32LE(0xfffffff0, b.readUInt32LE(12) + 40 + 4 * 0x0808), b), message: /IPv4 bucket index/ },
    { name: 'data at point 0', damage: (b) => (b.writeUInt8(1, b.readUInt32LE(12) + 32), b), message: /point 0 must mean "no data"/ },
  ])('refuses $name, as loadGeoTable does', ({ damage, message }) => {
    // Prepare
    const path = writeTable(damage(Buffer.from(good)));

    // Act
    const act = (): unknown => openGeoTable(path);

    // Assess
    expect(act).toThrow(GeoTableFormatError);
    expect(act).toThrow(message);
    expect(() => loadGeoTable(path)).toThrow(GeoTableFormatError);
  });

  it('names the path and the fix when the file is missing', () => {
    // Prepare
    const path = join(dir, 'missing.geotable');

    // Act
    const act = (): unknown => openGeoTable(path);

    // Assess
    expect(act).toThrow(GeoTableLoadError);
    expect(act).toThrow(`cannot read the geo table at ${path}: build it with \`npm run geo:build\` or set GEO_DB_PATH`);
  });

  it('answers "no data" rather than throwing when the file is cut short under it', () => {
    // Prepare
    const path = writeTable(encodeGeoTable(sampleContent()));
    const table = openGeoTable(path);
    expect(table.lookup('8.8.8.8')).toEqual(C);
    truncateSync(path, 700);

    // Act
    const found = [table.lookup('8.8.8.8'), table.lookup('2a00::'), table.lookup('255.255.255.255')];

    // Assess
    expect(found).toEqual([undefined, undefined, undefined]);
  });
});

describe.runIf(existsSync(resolveGeoTablePath()))('openGeoTable over the built table', () => {
  it('answers as the in-memory table', () => {
    // Prepare
    const file = openGeoTable(resolveGeoTablePath());
    const memory = loadGeoTable(resolveGeoTablePath());

    // Act, Assess
    fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (ip) => {
      expect(file.lookup(ip)).toEqual(memory.lookup(ip));
    }), { numRuns: 5_000 });
  });
});
