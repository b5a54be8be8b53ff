import { crc32 } from 'node:zlib';
import type { GeoTableContent } from '@global-iot/core/geo/format.js';

/** A small geo table for the format's tests: four points, a few IPv4 and IPv6 ranges. */

export const A = { lat: 52.52, lon: 13.4, country: 'DE' };
export const B = { lat: -33.87, lon: 151.21, country: 'AU' };
export const C = { lat: 35.69, lon: 139.77, country: 'JP' };
export const D = { lat: -23.56, lon: -46.64, country: 'BR' };

export function ipv4(text: string): number {
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** A small table: points 1-4 are A-D, point 0 is "no data". */
export function sampleContent(overrides: Partial<GeoTableContent> = {}): GeoTableContent {
  const points = [undefined, A, B, C, D];
  const countries = ['DE', 'AU', 'JP', 'BR'];
  return {
    source: 'fixture@1.0.0',
    v4SourceEpoch: 1_700_000_000,
    v6SourceEpoch: 1_700_000_001,
    countries,
    pointLat: Int16Array.from(points, (p) => (p === undefined ? 0 : Math.round(p.lat * 100))),
    pointLon: Int16Array.from(points, (p) => (p === undefined ? 0 : Math.round(p.lon * 100))),
    pointCountry: Uint8Array.from(points, (p) => (p === undefined ? 0 : countries.indexOf(p.country) + 1)),
    v4Start: Uint32Array.from(['0.0.0.0', '1.0.0.0', '1.0.128.0', '1.2.0.0', '8.8.8.0', '255.255.255.255'].map(ipv4)),
    v4Point: Uint32Array.from([0, 1, 2, 0, 3, 4]),
    v6Hi: Uint32Array.from([0, 0x24000000, 0x24000000, 0x2a000000, 0x2a000000]),
    v6Lo: Uint32Array.from([0, 0, 1, 0, 0xffffffff]),
    v6Point: Uint32Array.from([0, 1, 2, 3, 4]),
    ...overrides,
  };
}

/** Rewrites the header checksum, to reach the checks that come after it. */
export function resign(buf: Buffer): Buffer {
  const headerSize = buf.readUInt32LE(12);
  const copy = Buffer.from(buf.subarray(0, headerSize));
  copy.writeUInt32LE(0, 20);
  buf.writeUInt32LE(crc32(copy), 20);
  return buf;
}

/** Addresses at the edges of every range of the sample, and where each is. */
export const SAMPLE_LOOKUPS: readonly (readonly [string, { lat: number; lon: number; country: string } | undefined])[] = [
    ['0.255.255.255', undefined],
    ['1.0.0.0', A],
    ['1.0.127.255', A],
    ['1.0.128.0', B],
    ['1.1.255.255', B],
    ['1.2.0.0', undefined],
    ['8.8.7.255', undefined],
    ['8.8.8.8', C],
    ['200.1.2.3', C],
    ['255.255.255.254', C],
    ['255.255.255.255', D],
    ['::', undefined],
    ['23ff:ffff:ffff:ffff:ffff::', undefined],
    ['2400::', A],
    ['2400::ffff:ffff:ffff:ffff', A],
    ['2400:0:0:1::', B],
    ['2400:1::', B],
    ['29ff:ffff::', B],
    ['2a00::', C],
    ['2a00:0:ffff:fffe::1', C],
    ['2a00:0:ffff:ffff::', D],
    ['ffff::', D],
    ['::ffff:8.8.8.8', C],
    ['64:ff9b::1.0.0.1', A],
];
