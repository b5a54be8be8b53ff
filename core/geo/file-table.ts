import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import {
  assertLittleEndian,
  checkCountries,
  checkGeoTableIndex,
  type GeoTableIndex,
  readGeoTableHeader,
  type SectionName,
  sectionPlacement,
} from './format.js';
import { GeoTable, type RangeSections, resolveGeoTablePath, unreadableTable } from './table.js';

/**
 * A geo table read from its file as lookups need it. Opening reads the header and the small
 * sections (the point dictionary and the bucket indexes, about 3 MB), not the 47 MB of ranges:
 * the bootstrap Lambda's cold init then skips reading 50 MB it would mostly never look at. A
 * lookup reads one bucket's range starts (an IPv4 bucket holds at most a few hundred) and one
 * point, with positioned reads that the OS page cache serves after the first touch.
 *
 * The descriptor stays open for the life of the process, as the table did in memory. A read that
 * fails or comes back short (the file replaced under a running process) means "no data", as an
 * out-of-range read does in memory: a lookup never throws.
 */

type Placement = ReadonlyMap<SectionName, { readonly offset: number; readonly bytes: number }>;

/** `bytes` at `position`, or undefined when the file does not give them all. */
function readAt(fd: number, position: number, bytes: number): Uint8Array<ArrayBuffer> | undefined {
  // A fresh ArrayBuffer: offset 0, so typed arrays of any width can lie over it.
  const out = new Uint8Array(bytes);
  try {
    return bytes === 0 || readSync(fd, out, 0, bytes, position) === bytes ? out : undefined;
  } catch {
    return undefined;
  }
}

function sectionOffset(placement: Placement, name: SectionName): number {
  return placement.get(name)?.offset ?? 0;
}

function fileRanges(fd: number, placement: Placement): RangeSections {
  const at = {
    v4Low: sectionOffset(placement, 'v4Low'),
    v4PointLow: sectionOffset(placement, 'v4PointLow'),
    v4PointHigh: sectionOffset(placement, 'v4PointHigh'),
    v6Lo: sectionOffset(placement, 'v6Lo'),
    v6PointLow: sectionOffset(placement, 'v6PointLow'),
    v6PointHigh: sectionOffset(placement, 'v6PointHigh'),
  };
  const u16 = (offset: number, from: number, to: number): Uint16Array => {
    const bytes = readAt(fd, offset + 2 * from, 2 * Math.max(0, to - from));
    return bytes === undefined ? new Uint16Array(0) : new Uint16Array(bytes.buffer);
  };
  const u32 = (offset: number, from: number, to: number): Uint32Array => {
    const bytes = readAt(fd, offset + 4 * from, 4 * Math.max(0, to - from));
    return bytes === undefined ? new Uint32Array(0) : new Uint32Array(bytes.buffer);
  };
  const point = (lowAt: number, highAt: number, index: number): number | undefined => {
    if (index < 0) return undefined;
    const low = readAt(fd, lowAt + 2 * index, 2);
    const high = readAt(fd, highAt + index, 1);
    if (low === undefined || high === undefined) return undefined;
    return (high[0] ?? 0) * 0x10000 + (low[0] ?? 0) + (low[1] ?? 0) * 0x100;
  };
  return {
    v4Lows: (from, to) => u16(at.v4Low, from, to),
    v4Point: (index) => point(at.v4PointLow, at.v4PointHigh, index),
    v6Los: (from, to) => u32(at.v6Lo, from, to),
    v6Point: (index) => point(at.v6PointLow, at.v6PointHigh, index),
  };
}

/** Reads the header and the small sections, and checks them as an in-memory load does. */
function readIndex(fd: number, fileLength: number): { index: GeoTableIndex; placement: Placement; first: { v4Low?: number; v6Lo?: number } } {
  const fixed = readAt(fd, 0, Math.min(fileLength, 64)) ?? new Uint8Array(0);
  // The header's own size field (bytes 12-15); readGeoTableHeader checks it and everything else.
  const headerSize = fixed.length >= 16 ? Buffer.from(fixed.buffer).readUInt32LE(12) : fixed.length;
  const headerBytes = headerSize > fixed.length && headerSize <= fileLength ? (readAt(fd, 0, headerSize) ?? fixed) : fixed;
  const header = readGeoTableHeader(headerBytes, fileLength);
  checkCountries(header);
  const placement = sectionPlacement(header);
  const section = (name: SectionName): ArrayBuffer => {
    const where = placement.get(name);
    return (where === undefined ? undefined : readAt(fd, where.offset, where.bytes))?.buffer ?? new ArrayBuffer(0);
  };
  const index: GeoTableIndex = {
    header,
    pointLat: new Int16Array(section('pointLat')),
    pointLon: new Int16Array(section('pointLon')),
    pointCountry: new Uint8Array(section('pointCountry')),
    v4Bucket: new Uint32Array(section('v4Bucket')),
    v6BucketHi: new Uint32Array(section('v6BucketHi')),
    v6BucketStart: new Uint32Array(section('v6BucketStart')),
  };
  const v4Low = readAt(fd, sectionOffset(placement, 'v4Low'), 2);
  const v6Lo = readAt(fd, sectionOffset(placement, 'v6Lo'), 4);
  const first = {
    ...(v4Low ? { v4Low: new Uint16Array(v4Low.buffer)[0] } : {}),
    ...(v6Lo ? { v6Lo: new Uint32Array(v6Lo.buffer)[0] } : {}),
  };
  return { index, placement, first };
}

const opened = new Map<string, GeoTable>();

/**
 * Opens (once per path and process) the table at `path`, default `resolveGeoTablePath()`.
 * Throws GeoTableLoadError when the file is missing or unreadable, GeoTableFormatError when it
 * is not a valid table (the same checks as `loadGeoTable`, bar the optional body checksum, which
 * would need the whole file).
 */
export function openGeoTable(path: string = resolveGeoTablePath()): GeoTable {
  const cached = opened.get(path);
  if (cached !== undefined) return cached;
  assertLittleEndian();
  let fd: number;
  let fileLength: number;
  try {
    fd = openSync(path, 'r');
    fileLength = fstatSync(fd).size;
  } catch (error) {
    throw unreadableTable(path, error);
  }
  try {
    const { index, placement, first } = readIndex(fd, fileLength);
    checkGeoTableIndex(index, { v4Low: first.v4Low, v6Lo: first.v6Lo });
    const table = new GeoTable(index, fileRanges(fd, placement));
    opened.set(path, table);
    return table;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}
