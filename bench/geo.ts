/**
 * Geo table benchmark: load time and memory in a fresh process, lookup latency, file sizes,
 * against the source MaxMind files read with a generic (tree + decoder) reader.
 *
 *   tsx bench/geo.ts
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as z from 'zod';
import { classifyAddress, formatIpv4, parseIp } from '@global-iot/core/geo/address.js';
import { ensureGeoTable, resolveSourcePackage, SOURCE_IPV4_FILE, SOURCE_IPV6_FILE } from '@global-iot/tools/geo/build.js';
import { MmdbReader } from '@global-iot/tools/geo/mmdb.js';
import { openGeoTable } from '@global-iot/core/geo/file-table.js';
import { GeoTable, loadGeoTable } from '@global-iot/core/geo/table.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);
const CHILD_RUNS = 3;
const V4_LOOKUPS = 100_000;
const V6_LOOKUPS = 20_000;

const childResultSchema = z.object({ loadMs: z.number(), rssGrowthMb: z.number() });
type ChildResult = z.infer<typeof childResultSchema>;

const childModeSchema = z.enum(['table', 'table-verified', 'table-file', 'mmdb']);
type ChildMode = z.infer<typeof childModeSchema>;

function mb(bytes: number): number {
  return Math.round((bytes / 1e6) * 10) / 10;
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

/** Runs in the child: loads one thing, reports time and resident memory growth. */
function childMain(mode: ChildMode, tablePath: string): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the child needs --expose-gc');
  const { dir } = resolveSourcePackage();
  gc();
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  let keep: unknown;
  if (mode === 'mmdb') {
    const v4 = MmdbReader.fromBuffer(readFileSync(join(dir, SOURCE_IPV4_FILE)));
    const v6 = MmdbReader.fromBuffer(readFileSync(join(dir, SOURCE_IPV6_FILE)));
    v4.decodeRecord(v4.findNetwork([0x08080808]).dataOffset);
    keep = [v4, v6];
  } else if (mode === 'table-file') {
    const table = openGeoTable(tablePath);
    table.lookup('8.8.8.8');
    keep = table;
  } else {
    const table = loadGeoTable(tablePath, { verifyChecksum: mode === 'table-verified' });
    table.lookup('8.8.8.8');
    keep = table;
  }
  const loadMs = performance.now() - started;
  gc();
  const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 1e6;
  const result: ChildResult = { loadMs, rssGrowthMb };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (keep === undefined) throw new Error('nothing loaded');
}

function runChild(mode: ChildMode, tablePath: string): ChildResult {
  const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', THIS_FILE, '--child', mode, tablePath], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`bench child (${mode}) failed: ${run.stderr}`);
  const lastLine = run.stdout.trim().split('\n').pop() ?? '';
  return childResultSchema.parse(JSON.parse(lastLine));
}

function measureChild(mode: ChildMode, tablePath: string): ChildResult {
  const runs = Array.from({ length: CHILD_RUNS }, () => runChild(mode, tablePath));
  return { loadMs: median(runs.map((r) => r.loadMs)), rssGrowthMb: median(runs.map((r) => r.rssGrowthMb)) };
}

/** xorshift32: reproducible addresses without Math.random. */
function generator(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

function publicIpv4s(count: number, next: () => number): string[] {
  const out: string[] = [];
  while (out.length < count) {
    const ip = formatIpv4(next());
    if (classifyAddress(ip) === 'public') out.push(ip);
  }
  return out;
}

function ipv6s(count: number, next: () => number): string[] {
  // Regional registries' blocks, where the data is; the rest of 2000::/3 is mostly empty.
  const prefixes = [0x2001, 0x2400, 0x2600, 0x2a00, 0x2800, 0x2c00];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const groups = [prefixes[i % prefixes.length] ?? 0x2001];
    for (let g = 1; g < 8; g++) groups.push(next() & 0xffff);
    out.push(groups.map((g) => g.toString(16)).join(':'));
  }
  return out;
}

function timeEach(ips: readonly string[], lookup: (ip: string) => unknown): { p50: number; p99: number; meanUs: number; hits: number } {
  // Warm-up so the figures describe optimised code.
  for (let i = 0; i < Math.min(ips.length, 20_000); i++) lookup(ips[i] ?? '');
  const times = new Float64Array(ips.length);
  let hits = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ips.length; i++) {
    const start = process.hrtime.bigint();
    if (lookup(ips[i] ?? '') !== undefined) hits++;
    times[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  const total = Number(process.hrtime.bigint() - t0) / 1000;
  times.sort();
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), meanUs: total / ips.length, hits };
}

export async function benchGeo(): Promise<Record<string, number>> {
  const built = await ensureGeoTable({ log: () => undefined });
  const { dir } = resolveSourcePackage();
  const table = measureChild('table', built.path);
  const verified = measureChild('table-verified', built.path);
  const fileBacked = measureChild('table-file', built.path);
  const mmdb = measureChild('mmdb', built.path);

  const geo = GeoTable.fromBuffer(readFileSync(built.path));
  const next = generator(0xc0ffee);
  const v4 = timeEach(publicIpv4s(V4_LOOKUPS, next), (ip) => geo.lookup(ip));
  const v6 = timeEach(ipv6s(V6_LOOKUPS, next), (ip) => geo.lookup(ip));
  const v4Ips = publicIpv4s(V4_LOOKUPS / 5, next);
  // The bootstrap Lambda's table: the index in memory, a few bytes of the file read per lookup.
  const file = openGeoTable(built.path);
  const fileV4 = timeEach(v4Ips, (ip) => file.lookup(ip));
  const fileV6 = timeEach(ipv6s(V6_LOOKUPS / 5, next), (ip) => file.lookup(ip));

  // The generic reader's lookup: walk the tree, decode the whole record.
  const reader = MmdbReader.fromBuffer(readFileSync(join(dir, SOURCE_IPV4_FILE)));
  const generic = timeEach(v4Ips, (ip) => {
    const parsed = parseIp(ip);
    if (parsed?.family !== 4) return undefined;
    const { dataOffset } = reader.findNetwork([parsed.value]);
    return dataOffset < 0 ? undefined : reader.decodeRecord(dataOffset);
  });

  return {
    tableLoadMs: round(table.loadMs),
    tableLoadVerifiedMs: round(verified.loadMs),
    tableRssGrowthMb: round(table.rssGrowthMb, 1),
    tableFileOpenMs: round(fileBacked.loadMs),
    tableFileRssGrowthMb: round(fileBacked.rssGrowthMb, 1),
    tableFileLookupV4P50Us: round(fileV4.p50, 3),
    tableFileLookupV4P99Us: round(fileV4.p99, 3),
    tableFileLookupV6P50Us: round(fileV6.p50, 3),
    tableFileLookupV6P99Us: round(fileV6.p99, 3),
    mmdbLoadMs: round(mmdb.loadMs),
    mmdbRssGrowthMb: round(mmdb.rssGrowthMb, 1),
    lookupV4P50Us: round(v4.p50, 3),
    lookupV4P99Us: round(v4.p99, 3),
    lookupV4MeanUs: round(v4.meanUs, 3),
    lookupV4HitRate: round(v4.hits / V4_LOOKUPS, 3),
    lookupV6P50Us: round(v6.p50, 3),
    lookupV6P99Us: round(v6.p99, 3),
    lookupV6HitRate: round(v6.hits / V6_LOOKUPS, 3),
    mmdbLookupV4P50Us: round(generic.p50, 3),
    mmdbLookupV4P99Us: round(generic.p99, 3),
    tableFileMb: mb(built.fileSize),
    mmdbV4FileMb: mb(statSync(join(dir, SOURCE_IPV4_FILE)).size),
    mmdbV6FileMb: mb(statSync(join(dir, SOURCE_IPV6_FILE)).size),
    v4Ranges: built.v4Ranges,
    v6Ranges: built.v6Ranges,
    points: built.points,
  };
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  const childAt = process.argv.indexOf('--child');
  if (childAt !== -1) {
    childMain(childModeSchema.parse(process.argv[childAt + 1]), z.string().min(1).parse(process.argv[childAt + 2]));
  } else {
    benchGeo()
      .then((results) => {
        for (const [name, value] of Object.entries(results)) console.log(`${name.padEnd(22)} ${value}`);
      })
      .catch((error: unknown) => {
        console.error(error);
        process.exitCode = 1;
      });
  }
}
