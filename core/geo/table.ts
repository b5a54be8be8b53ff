/**
 * Run-time IP geolocation over the compact range table written by tools/geo/build.ts.
 * `loadGeoTable` reads the whole file and lays typed arrays over it (fastest lookups: the local
 * cloud, the fleet, `ops plan`); `openGeoTable` (file-table.ts) keeps only the index in memory and
 * reads a few bytes of the file per lookup (fastest start: the bootstrap Lambda's cold init).
 * A lookup is two short binary searches either way.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { embeddedIpv4, parseIp, type ParsedIp } from './address.js';
import { decodeGeoTable, type DecodeOptions, type GeoTableHeader, type GeoTableIndex, type GeoTableViews } from './format.js';

export class GeoTableLoadError extends Error {
  override name = 'GeoTableLoadError';
}

/** The file is missing or cannot be read: what to do about it. */
export function unreadableTable(path: string, cause: unknown): GeoTableLoadError {
  return new GeoTableLoadError(`cannot read the geo table at ${path}: build it with \`npm run geo:build\` or set ${GEO_DB_PATH_ENV} to the file`, { cause });
}

export interface GeoPoint {
  readonly lat: number;
  readonly lon: number;
  /** ISO 3166-1 alpha-2. */
  readonly country: string;
}

/** File name of the table; infra ships it in a Lambda bundle and points GEO_DB_PATH at it. */
export const GEO_TABLE_FILE_NAME = 'dbip-city.geotable';
/** Environment variable naming the table file. */
export const GEO_DB_PATH_ENV = 'GEO_DB_PATH';
/**
 * Where build.ts writes by default: `.cache/geo/` in the repository root. A function, not a
 * constant, so a bundle that always sets GEO_DB_PATH never depends on its own location.
 */
export function defaultGeoTableDir(): string {
  return fileURLToPath(new URL('../../.cache/geo/', import.meta.url));
}

export function defaultGeoTablePath(): string {
  return defaultGeoTableDir() + GEO_TABLE_FILE_NAME;
}

/** The table path: `GEO_DB_PATH` when set and non-empty, else the repository cache. */
export function resolveGeoTablePath(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[GEO_DB_PATH_ENV];
  return fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv : defaultGeoTablePath();
}

/**
 * The large sections (the ranges: about 47 MB of a 50 MB table), read where they are: laid over
 * a buffer in memory (`fromBuffer`), or read from the file by each lookup (`openGeoTable`).
 * Indexes come from the validated bucket indexes, so they are in range for a whole file.
 */
export interface RangeSections {
  /** The low 16 bits of IPv4 range starts `from` (inclusive) to `to` (exclusive). */
  v4Lows(from: number, to: number): Uint16Array;
  /** The point of IPv4 range `index`; undefined when it cannot be read. */
  v4Point(index: number): number | undefined;
  /** The low 32 bits of the IPv6 range keys `from` to `to`. */
  v6Los(from: number, to: number): Uint32Array;
  v6Point(index: number): number | undefined;
}

function pointOf(low: number | undefined, high: number | undefined): number | undefined {
  return low === undefined || high === undefined ? undefined : high * 0x10000 + low;
}

/** The range sections of a table in memory: views, no copies. */
export function rangesInMemory(v: GeoTableViews): RangeSections {
  return {
    v4Lows: (from, to) => v.v4Low.subarray(from, to),
    v4Point: (index) => pointOf(v.v4PointLow[index], v.v4PointHigh[index]),
    v6Los: (from, to) => v.v6Lo.subarray(from, to),
    v6Point: (index) => pointOf(v.v6PointLow[index], v.v6PointHigh[index]),
  };
}

/** Index of the first entry of `sorted` greater than `key` (its length when none is). */
function upperBound(sorted: ArrayLike<number>, key: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >>> 1);
    if ((sorted[mid] ?? 0) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class GeoTable {
  readonly header: GeoTableHeader;
  private readonly index: GeoTableIndex;
  private readonly ranges: RangeSections;

  /** A validated index and its range sections (see `fromBuffer` and file-table.ts). */
  constructor(index: GeoTableIndex, ranges: RangeSections) {
    this.index = index;
    this.ranges = ranges;
    this.header = index.header;
  }

  /** Validates the header and wraps the buffer's bytes; throws GeoTableFormatError if unfit. */
  static fromBuffer(buf: Uint8Array, options: DecodeOptions = {}): GeoTable {
    const views = decodeGeoTable(buf, options);
    return new GeoTable(views, rangesInMemory(views));
  }

  /**
   * Where an address is, per the database. Undefined for text that is not an IP address and for
   * addresses the database has nothing for (private, reserved, unallocated). Never throws.
   */
  lookup(ip: string): GeoPoint | undefined {
    const parsed = parseIp(ip);
    return parsed === undefined ? undefined : this.lookupParsed(parsed);
  }

  lookupParsed(ip: ParsedIp): GeoPoint | undefined {
    if (ip.family === 4) return this.lookupIpv4(ip.value);
    const v4 = embeddedIpv4(ip.words);
    return v4 === undefined ? this.lookupIpv6(ip.words[0], ip.words[1]) : this.lookupIpv4(v4);
  }

  /** `value` is an unsigned 32-bit address. */
  lookupIpv4(value: number): GeoPoint | undefined {
    const bucket = value >>> 16;
    const from = this.index.v4Bucket[bucket] ?? 0;
    const to = this.index.v4Bucket[bucket + 1] ?? 0;
    // The first range starting after the address, minus one: the range that covers it, even
    // when that one sits in an earlier bucket.
    const index = from + upperBound(this.ranges.v4Lows(from, to), value & 0xffff) - 1;
    return this.point(this.ranges.v4Point(index));
  }

  /** `hi` and `lo` are the top two 32-bit words of the address; the table keys on 64 bits. */
  lookupIpv6(hi: number, lo: number): GeoPoint | undefined {
    const { v6BucketHi, v6BucketStart } = this.index;
    const bucket = upperBound(v6BucketHi, hi) - 1;
    if (bucket < 0) return undefined;
    const from = v6BucketStart[bucket] ?? 0;
    const to = v6BucketStart[bucket + 1] ?? 0;
    // Past every range of a lower bucket: its last range covers the address.
    const index = v6BucketHi[bucket] !== hi ? to - 1 : from + upperBound(this.ranges.v6Los(from, to), lo) - 1;
    return this.point(this.ranges.v6Point(index));
  }

  // Out-of-range reads come back undefined and mean "no data", so a damaged body cannot throw.
  private point(p: number | undefined): GeoPoint | undefined {
    if (p === undefined) return undefined;
    const countryNumber = this.index.pointCountry[p];
    if (countryNumber === undefined || countryNumber === 0) return undefined;
    const country = this.header.countries[countryNumber - 1];
    const lat = this.index.pointLat[p];
    const lon = this.index.pointLon[p];
    if (country === undefined || lat === undefined || lon === undefined) return undefined;
    const scale = this.header.coordinateScale;
    return { lat: lat / scale, lon: lon / scale, country };
  }
}

export interface LoadOptions extends DecodeOptions {
  /** Reads the file; a parameter so tests and bundlers can substitute it. */
  readonly readFile?: (path: string) => Uint8Array;
}

const loaded = new Map<string, GeoTable>();

/**
 * Loads (once per path and process) the table at `path`, default `resolveGeoTablePath()`.
 * Throws GeoTableLoadError when the file is missing or unreadable, GeoTableFormatError when it
 * is not a valid table.
 */
export function loadGeoTable(path: string = resolveGeoTablePath(), options: LoadOptions = {}): GeoTable {
  const cached = loaded.get(path);
  if (cached !== undefined) return cached;
  const read = options.readFile ?? ((p: string) => readFileSync(p));
  let bytes: Uint8Array;
  try {
    bytes = read(path);
  } catch (error) {
    throw unreadableTable(path, error);
  }
  const table = GeoTable.fromBuffer(bytes, options);
  loaded.set(path, table);
  return table;
}
