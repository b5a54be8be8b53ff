/**
 * Binary layout of the geo table file, shared by the writer (build.ts) and the reader (table.ts).
 *
 * All integers are little-endian. The file is a header followed by sections, each starting on an
 * 8-byte boundary, so a reader can lay typed arrays straight over the file's bytes.
 *
 * Header (`headerSize` bytes, a multiple of 8):
 *   0  magic "IOTGEOTB"            32 v4Count
 *   8  u32 format version          36 v6Count
 *   12 u32 headerSize              40 v6BucketCount
 *   16 u32 fileSize                44 countryCount
 *   20 u32 CRC-32 of the header    48 coordinate scale (units per degree)
 *      (this field read as 0)      52 v4 source build epoch (s)
 *   24 u32 CRC-32 of the body      56 v6 source build epoch (s)
 *   28 u32 pointCount              60 u16 source length, u16 zero
 *   64 source (UTF-8, `name@version` of the data package), then countries (2 ASCII bytes each)
 *
 * Sections: a dictionary of distinct points (lat, lon as Int16 in 1/scale degree, country number,
 * 0 meaning "no data"), then the IPv4 ranges, bucketed by their top 16 bits so each range start
 * needs only its low 16 bits, then the IPv6 ranges keyed by their top 64 bits, bucketed by the
 * top 32. A range's value is a 24-bit point number, split in a Uint16 and a Uint8 array.
 */
import { crc32 } from 'node:zlib';
import { endianness } from 'node:os';

export class GeoTableFormatError extends Error {
  override name = 'GeoTableFormatError';
}

export const GEO_TABLE_MAGIC = 'IOTGEOTB';
export const GEO_TABLE_FORMAT_VERSION = 1;
/** Units per degree of the stored coordinates: 100 keeps 0.01 degree (about 1 km). */
export const COORDINATE_SCALE = 100;
export const V4_BUCKETS = 0x10000;
export const MAX_POINTS = 1 << 24;
export const MAX_COUNTRIES = 255;

const FIXED_HEADER_SIZE = 64;
const HEADER_CRC_OFFSET = 20;

/** What the writer is given; range arrays are sorted by start and begin at address 0. */
export interface GeoTableContent {
  /** `name@version` of the package the data came from. */
  readonly source: string;
  readonly v4SourceEpoch: number;
  readonly v6SourceEpoch: number;
  /** Country number n (1-based) is `countries[n - 1]`. */
  readonly countries: readonly string[];
  /** Point 0 is reserved for "no data". */
  readonly pointLat: Int16Array;
  readonly pointLon: Int16Array;
  readonly pointCountry: Uint8Array;
  readonly v4Start: Uint32Array;
  readonly v4Point: Uint32Array;
  readonly v6Hi: Uint32Array;
  readonly v6Lo: Uint32Array;
  readonly v6Point: Uint32Array;
}

export interface GeoTableHeader {
  readonly formatVersion: number;
  readonly headerSize: number;
  readonly fileSize: number;
  readonly bodyCrc: number;
  readonly pointCount: number;
  readonly v4Count: number;
  readonly v6Count: number;
  readonly v6BucketCount: number;
  readonly countryCount: number;
  readonly coordinateScale: number;
  readonly v4SourceEpoch: number;
  readonly v6SourceEpoch: number;
  readonly source: string;
  readonly countries: readonly string[];
}

/**
 * The small sections (about 3 MB of a 50 MB table): the point dictionary and the bucket indexes.
 * A file-backed table keeps only these in memory (file-table.ts).
 */
export interface GeoTableIndex {
  readonly header: GeoTableHeader;
  readonly pointLat: Int16Array;
  readonly pointLon: Int16Array;
  readonly pointCountry: Uint8Array;
  /** Index of the first IPv4 range whose start's top 16 bits are >= the bucket; 65537 entries. */
  readonly v4Bucket: Uint32Array;
  /** Distinct top-32-bit words of IPv6 range starts, ascending. */
  readonly v6BucketHi: Uint32Array;
  /** Index of each bucket's first range; one extra entry holds v6Count. */
  readonly v6BucketStart: Uint32Array;
}

/** Typed-array views over a validated file. */
export interface GeoTableViews extends GeoTableIndex {
  readonly v4Low: Uint16Array;
  readonly v4PointLow: Uint16Array;
  readonly v4PointHigh: Uint8Array;
  readonly v6Lo: Uint32Array;
  readonly v6PointLow: Uint16Array;
  readonly v6PointHigh: Uint8Array;
}

export type SectionName = Exclude<keyof GeoTableViews, 'header'>;

interface SectionSpec {
  readonly name: SectionName;
  readonly bytesPerItem: number;
  readonly items: number;
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function sectionSpecs(pointCount: number, v4Count: number, v6Count: number, v6BucketCount: number): SectionSpec[] {
  return [
    { name: 'pointLat', bytesPerItem: 2, items: pointCount },
    { name: 'pointLon', bytesPerItem: 2, items: pointCount },
    { name: 'pointCountry', bytesPerItem: 1, items: pointCount },
    { name: 'v4Bucket', bytesPerItem: 4, items: V4_BUCKETS + 1 },
    { name: 'v4Low', bytesPerItem: 2, items: v4Count },
    { name: 'v4PointLow', bytesPerItem: 2, items: v4Count },
    { name: 'v4PointHigh', bytesPerItem: 1, items: v4Count },
    { name: 'v6BucketHi', bytesPerItem: 4, items: v6BucketCount },
    { name: 'v6BucketStart', bytesPerItem: 4, items: v6BucketCount + 1 },
    { name: 'v6Lo', bytesPerItem: 4, items: v6Count },
    { name: 'v6PointLow', bytesPerItem: 2, items: v6Count },
    { name: 'v6PointHigh', bytesPerItem: 1, items: v6Count },
  ];
}

function layout(headerSize: number, specs: readonly SectionSpec[]): { offsets: Map<SectionName, number>; end: number } {
  const offsets = new Map<SectionName, number>();
  let at = headerSize;
  for (const spec of specs) {
    offsets.set(spec.name, at);
    at = align8(at + spec.bytesPerItem * spec.items);
  }
  return { offsets, end: at };
}

/** Where each section starts in the file and how many bytes it holds. */
export function sectionPlacement(header: GeoTableHeader): ReadonlyMap<SectionName, { readonly offset: number; readonly bytes: number }> {
  const specs = sectionSpecs(header.pointCount, header.v4Count, header.v6Count, header.v6BucketCount);
  const { offsets } = layout(header.headerSize, specs);
  return new Map(specs.map((spec) => [spec.name, { offset: offsets.get(spec.name) ?? 0, bytes: spec.bytesPerItem * spec.items }]));
}

export function assertLittleEndian(): void {
  // Views are laid straight over the file, so the host must share the file's byte order.
  if (endianness() !== 'LE') {
    throw new GeoTableFormatError('geo tables are little-endian; this host is big-endian');
  }
}

function headerCrc(buf: Uint8Array, headerSize: number): number {
  const copy = Buffer.from(buf.subarray(0, headerSize));
  copy.writeUInt32LE(0, HEADER_CRC_OFFSET);
  return crc32(copy);
}

function bucketIpv4(content: GeoTableContent): { bucket: Uint32Array; low: Uint16Array } {
  const n = content.v4Start.length;
  const bucket = new Uint32Array(V4_BUCKETS + 1);
  const low = new Uint16Array(n);
  let r = 0;
  for (let b = 0; b <= V4_BUCKETS; b++) {
    while (r < n && (content.v4Start[r] as number) >>> 16 < b) r++;
    bucket[b] = r;
  }
  for (let i = 0; i < n; i++) low[i] = (content.v4Start[i] as number) & 0xffff;
  return { bucket, low };
}

function bucketIpv6(content: GeoTableContent): { hi: Uint32Array; start: Uint32Array } {
  const his: number[] = [];
  const starts: number[] = [];
  const n = content.v6Hi.length;
  for (let i = 0; i < n; i++) {
    const hi = content.v6Hi[i] as number;
    if (his.length === 0 || his[his.length - 1] !== hi) {
      his.push(hi);
      starts.push(i);
    }
  }
  starts.push(n);
  return { hi: Uint32Array.from(his), start: Uint32Array.from(starts) };
}

function splitPoints(points: Uint32Array): { low: Uint16Array; high: Uint8Array } {
  const low = new Uint16Array(points.length);
  const high = new Uint8Array(points.length);
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as number;
    low[i] = p & 0xffff;
    high[i] = p >>> 16;
  }
  return { low, high };
}

function checkContent(c: GeoTableContent): void {
  const pointCount = c.pointLat.length;
  if (pointCount < 1 || pointCount > MAX_POINTS) throw new GeoTableFormatError(`${pointCount} points (1..${MAX_POINTS})`);
  if (c.pointLon.length !== pointCount || c.pointCountry.length !== pointCount) {
    throw new GeoTableFormatError('point arrays differ in length');
  }
  if (c.countries.length > MAX_COUNTRIES) throw new GeoTableFormatError(`${c.countries.length} countries (max ${MAX_COUNTRIES})`);
  for (const code of c.countries) {
    if (!/^[A-Z]{2}$/.test(code)) throw new GeoTableFormatError(`bad country code ${JSON.stringify(code)}`);
  }
  if (c.v4Start.length < 1 || c.v4Start[0] !== 0 || c.v4Point.length !== c.v4Start.length) {
    throw new GeoTableFormatError('IPv4 ranges must start at 0.0.0.0 and have one point each');
  }
  if (c.v6Hi.length < 1 || c.v6Hi[0] !== 0 || c.v6Lo[0] !== 0 || c.v6Lo.length !== c.v6Hi.length || c.v6Point.length !== c.v6Hi.length) {
    throw new GeoTableFormatError('IPv6 ranges must start at :: and have one point each');
  }
}

/** Serialises a table into the file format. */
export function encodeGeoTable(content: GeoTableContent): Buffer {
  assertLittleEndian();
  checkContent(content);
  const source = Buffer.from(content.source, 'utf8');
  if (source.length > 0xffff) throw new GeoTableFormatError('source name too long');
  const headerSize = align8(FIXED_HEADER_SIZE + source.length + 2 * content.countries.length);
  const v4 = bucketIpv4(content);
  const v6 = bucketIpv6(content);
  const v4Points = splitPoints(content.v4Point);
  const v6Points = splitPoints(content.v6Point);
  const pointCount = content.pointLat.length;
  const specs = sectionSpecs(pointCount, content.v4Start.length, content.v6Hi.length, v6.hi.length);
  const { offsets, end } = layout(headerSize, specs);
  const data: Record<SectionName, ArrayBufferView> = {
    pointLat: content.pointLat,
    pointLon: content.pointLon,
    pointCountry: content.pointCountry,
    v4Bucket: v4.bucket,
    v4Low: v4.low,
    v4PointLow: v4Points.low,
    v4PointHigh: v4Points.high,
    v6BucketHi: v6.hi,
    v6BucketStart: v6.start,
    v6Lo: content.v6Lo,
    v6PointLow: v6Points.low,
    v6PointHigh: v6Points.high,
  };
  const out = Buffer.alloc(end);
  for (const spec of specs) {
    const view = data[spec.name];
    out.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), offsets.get(spec.name));
  }
  out.write(GEO_TABLE_MAGIC, 0, 'latin1');
  out.writeUInt32LE(GEO_TABLE_FORMAT_VERSION, 8);
  out.writeUInt32LE(headerSize, 12);
  out.writeUInt32LE(end, 16);
  out.writeUInt32LE(pointCount, 28);
  out.writeUInt32LE(content.v4Start.length, 32);
  out.writeUInt32LE(content.v6Hi.length, 36);
  out.writeUInt32LE(v6.hi.length, 40);
  out.writeUInt32LE(content.countries.length, 44);
  out.writeUInt32LE(COORDINATE_SCALE, 48);
  out.writeUInt32LE(content.v4SourceEpoch, 52);
  out.writeUInt32LE(content.v6SourceEpoch, 56);
  out.writeUInt16LE(source.length, 60);
  source.copy(out, FIXED_HEADER_SIZE);
  out.write(content.countries.join(''), FIXED_HEADER_SIZE + source.length, 'latin1');
  out.writeUInt32LE(crc32(out.subarray(headerSize)), 24);
  out.writeUInt32LE(headerCrc(out, headerSize), HEADER_CRC_OFFSET);
  return out;
}

/** True when `index` starts at 0, never decreases and ends at `count`. */
function isIndex(index: Uint32Array, count: number): boolean {
  if (index[0] !== 0 || index[index.length - 1] !== count) return false;
  for (let i = 1; i < index.length; i++) if ((index[i] ?? 0) < (index[i - 1] ?? 0)) return false;
  return true;
}

function fail(message: string): never {
  throw new GeoTableFormatError(`invalid geo table: ${message}; rebuild it with \`npm run geo:build\``);
}

/**
 * Reads and checks the header alone: cheap, and enough to spot a stale or foreign file. `buf` may
 * be the header's bytes only, when `fileLength` gives the length of the whole file.
 */
export function readGeoTableHeader(buf: Uint8Array, fileLength: number = buf.length): GeoTableHeader {
  if (buf.length < FIXED_HEADER_SIZE) fail(`file is ${buf.length} bytes, shorter than a header`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.toString('latin1', 0, 8) !== GEO_TABLE_MAGIC) fail('bad magic, not a geo table file');
  const formatVersion = b.readUInt32LE(8);
  if (formatVersion !== GEO_TABLE_FORMAT_VERSION) {
    fail(`format version ${formatVersion}, this reader supports ${GEO_TABLE_FORMAT_VERSION}`);
  }
  const headerSize = b.readUInt32LE(12);
  const fileSize = b.readUInt32LE(16);
  if (fileSize !== fileLength) fail(`header says ${fileSize} bytes but the file has ${fileLength} (truncated?)`);
  if (headerSize < FIXED_HEADER_SIZE || headerSize > fileSize || headerSize % 8 !== 0 || headerSize > b.length) fail(`header size ${headerSize}`);
  if (headerCrc(b, headerSize) !== b.readUInt32LE(HEADER_CRC_OFFSET)) fail('header checksum mismatch');
  const countryCount = b.readUInt32LE(44);
  const sourceLength = b.readUInt16LE(60);
  if (countryCount > MAX_COUNTRIES || FIXED_HEADER_SIZE + sourceLength + 2 * countryCount > headerSize) {
    fail('header fields overrun the header');
  }
  const countryText = b.toString('latin1', FIXED_HEADER_SIZE + sourceLength, FIXED_HEADER_SIZE + sourceLength + 2 * countryCount);
  const countries: string[] = [];
  for (let i = 0; i < countryCount; i++) countries.push(countryText.slice(2 * i, 2 * i + 2));
  const header: GeoTableHeader = {
    formatVersion,
    headerSize,
    fileSize,
    bodyCrc: b.readUInt32LE(24),
    pointCount: b.readUInt32LE(28),
    v4Count: b.readUInt32LE(32),
    v6Count: b.readUInt32LE(36),
    v6BucketCount: b.readUInt32LE(40),
    countryCount,
    coordinateScale: b.readUInt32LE(48),
    v4SourceEpoch: b.readUInt32LE(52),
    v6SourceEpoch: b.readUInt32LE(56),
    source: b.toString('utf8', FIXED_HEADER_SIZE, FIXED_HEADER_SIZE + sourceLength),
    countries,
  };
  if (header.coordinateScale !== COORDINATE_SCALE) fail(`coordinate scale ${header.coordinateScale}`);
  if (header.pointCount < 1 || header.pointCount > MAX_POINTS) fail(`${header.pointCount} points`);
  if (header.v4Count < 1 || header.v6Count < 1 || header.v6BucketCount < 1 || header.v6BucketCount > header.v6Count) {
    fail('range counts out of bounds');
  }
  const specs = sectionSpecs(header.pointCount, header.v4Count, header.v6Count, header.v6BucketCount);
  if (layout(headerSize, specs).end !== fileSize) fail('section sizes do not add up to the file size');
  return header;
}

export interface DecodeOptions {
  /**
   * Check the CRC-32 of the whole body (about 25 ms for 50 MB). The header is always checked;
   * without this, a flipped bit in the body goes unnoticed but cannot make a lookup throw.
   */
  readonly verifyChecksum?: boolean;
}

/**
 * Validates a file and lays typed arrays over it without copying (unless `buf` is not 8-byte
 * aligned, which a fresh `readFileSync` buffer always is).
 */
export function decodeGeoTable(input: Uint8Array, options: DecodeOptions = {}): GeoTableViews {
  assertLittleEndian();
  const header = readGeoTableHeader(input);
  if (options.verifyChecksum === true && crc32(input.subarray(header.headerSize)) !== header.bodyCrc) {
    fail('body checksum mismatch (corrupt file)');
  }
  checkCountries(header);
  const buf = input.byteOffset % 8 === 0 ? input : new Uint8Array(input);
  const specs = sectionSpecs(header.pointCount, header.v4Count, header.v6Count, header.v6BucketCount);
  const { offsets } = layout(header.headerSize, specs);
  const at = (name: SectionName): number => buf.byteOffset + (offsets.get(name) ?? fail(`no section ${name}`));
  const ab = buf.buffer;
  const views: GeoTableViews = {
    header,
    pointLat: new Int16Array(ab, at('pointLat'), header.pointCount),
    pointLon: new Int16Array(ab, at('pointLon'), header.pointCount),
    pointCountry: new Uint8Array(ab, at('pointCountry'), header.pointCount),
    v4Bucket: new Uint32Array(ab, at('v4Bucket'), V4_BUCKETS + 1),
    v4Low: new Uint16Array(ab, at('v4Low'), header.v4Count),
    v4PointLow: new Uint16Array(ab, at('v4PointLow'), header.v4Count),
    v4PointHigh: new Uint8Array(ab, at('v4PointHigh'), header.v4Count),
    v6BucketHi: new Uint32Array(ab, at('v6BucketHi'), header.v6BucketCount),
    v6BucketStart: new Uint32Array(ab, at('v6BucketStart'), header.v6BucketCount + 1),
    v6Lo: new Uint32Array(ab, at('v6Lo'), header.v6Count),
    v6PointLow: new Uint16Array(ab, at('v6PointLow'), header.v6Count),
    v6PointHigh: new Uint8Array(ab, at('v6PointHigh'), header.v6Count),
  };
  checkGeoTableIndex(views, { v4Low: views.v4Low[0], v6Lo: views.v6Lo[0] });
  return views;
}

/**
 * The invariants lookups rely on; the checksum covers the rest. The bucket indexes are checked
 * whole: a binary search between out-of-order or out-of-range bounds need not end. `first` holds
 * the first entries of the two range-start sections.
 */
export function checkGeoTableIndex(index: GeoTableIndex, first: { v4Low: number | undefined; v6Lo: number | undefined }): void {
  const { header } = index;
  if (!isIndex(index.v4Bucket, header.v4Count)) fail('IPv4 bucket index is inconsistent');
  if (!isIndex(index.v6BucketStart, header.v6Count)) fail('IPv6 bucket index is inconsistent');
  if (first.v4Low !== 0 || index.v6BucketHi[0] !== 0 || first.v6Lo !== 0) fail('ranges do not start at address 0');
  if (index.pointCountry[0] !== 0) fail('point 0 must mean "no data"');
}

/** Countries are two capital letters; anything else is a damaged or foreign header. */
export function checkCountries(header: GeoTableHeader): void {
  for (const code of header.countries) {
    if (!/^[A-Z]{2}$/.test(code)) fail(`bad country code ${JSON.stringify(code)}`);
  }
}
