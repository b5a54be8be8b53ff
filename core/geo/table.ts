/**
 * Run-time IP geolocation over the compact range table written by build.ts.
 * Loading is one file read plus typed-array views; a lookup is two short binary searches.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { embeddedIpv4, parseIp, type ParsedIp } from './address.js';
import { decodeGeoTable, type DecodeOptions, type GeoTableHeader, type GeoTableViews } from './format.js';

export class GeoTableLoadError extends Error {
  override name = 'GeoTableLoadError';
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

export class GeoTable {
  readonly header: GeoTableHeader;
  private readonly v: GeoTableViews;

  private constructor(views: GeoTableViews) {
    this.v = views;
    this.header = views.header;
  }

  /** Validates the header and wraps the buffer's bytes; throws GeoTableFormatError if unfit. */
  static fromBuffer(buf: Uint8Array, options: DecodeOptions = {}): GeoTable {
    return new GeoTable(decodeGeoTable(buf, options));
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
    const { v4Bucket, v4Low, v4PointLow, v4PointHigh } = this.v;
    const bucket = value >>> 16;
    const key = value & 0xffff;
    let lo = v4Bucket[bucket] ?? 0;
    let hi = v4Bucket[bucket + 1] ?? 0;
    while (lo < hi) {
      const mid = lo + ((hi - lo) >>> 1);
      if ((v4Low[mid] ?? 0) <= key) lo = mid + 1;
      else hi = mid;
    }
    // lo is now the first range starting after the address; the one before covers it, even
    // when that one sits in an earlier bucket.
    const index = lo - 1;
    return this.point(v4PointLow[index], v4PointHigh[index]);
  }

  /** `hi` and `lo` are the top two 32-bit words of the address; the table keys on 64 bits. */
  lookupIpv6(hi: number, lo: number): GeoPoint | undefined {
    const { v6BucketHi, v6BucketStart, v6Lo, v6PointLow, v6PointHigh } = this.v;
    let a = 0;
    let b = v6BucketHi.length;
    while (a < b) {
      const mid = a + ((b - a) >>> 1);
      if ((v6BucketHi[mid] ?? 0) <= hi) a = mid + 1;
      else b = mid;
    }
    const bucket = a - 1;
    let index: number;
    if (bucket < 0) return undefined;
    if (v6BucketHi[bucket] !== hi) {
      index = (v6BucketStart[bucket + 1] ?? 0) - 1;
    } else {
      let l = v6BucketStart[bucket] ?? 0;
      let h = v6BucketStart[bucket + 1] ?? 0;
      while (l < h) {
        const mid = l + ((h - l) >>> 1);
        if ((v6Lo[mid] ?? 0) <= lo) l = mid + 1;
        else h = mid;
      }
      index = l - 1;
    }
    return this.point(v6PointLow[index], v6PointHigh[index]);
  }

  // Out-of-range reads come back undefined and mean "no data", so a damaged body cannot throw.
  private point(low: number | undefined, high: number | undefined): GeoPoint | undefined {
    if (low === undefined || high === undefined) return undefined;
    const p = high * 0x10000 + low;
    const countryNumber = this.v.pointCountry[p];
    if (countryNumber === undefined || countryNumber === 0) return undefined;
    const country = this.header.countries[countryNumber - 1];
    const lat = this.v.pointLat[p];
    const lon = this.v.pointLon[p];
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
    throw new GeoTableLoadError(
      `cannot read the geo table at ${path}: build it with \`npm run geo:build\` or set ${GEO_DB_PATH_ENV} to the file`,
      { cause: error },
    );
  }
  const table = GeoTable.fromBuffer(bytes, options);
  loaded.set(path, table);
  return table;
}
