/**
 * A small reader for the MaxMind DB format (v2), enough to walk a whole search tree and decode
 * the records it points at. It exists so the build step needs no third-party reader; at run time
 * the service reads the compact table written by build.ts instead.
 *
 * Format: https://maxmind.github.io/MaxMind-DB/
 */
import * as z from 'zod';

export class MmdbFormatError extends Error {
  override name = 'MmdbFormatError';
}

/** A decoded data-section value. Maps are `Map`s so keys such as `__proto__` stay plain data. */
export type MmdbValue =
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | readonly MmdbValue[]
  | ReadonlyMap<string, MmdbValue>;

const METADATA_MARKER = Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1');
// The spec caps metadata at 128 KiB, so the marker is searched for only in that tail.
const METADATA_MAX_SIZE = 128 * 1024;
const DATA_SECTION_SEPARATOR_SIZE = 16;

const metadataSchema = z.object({
  binary_format_major_version: z.literal(2),
  binary_format_minor_version: z.number().int().nonnegative(),
  build_epoch: z.union([z.bigint(), z.number()]).transform((v) => Number(v)),
  database_type: z.string(),
  ip_version: z.union([z.literal(4), z.literal(6)]),
  node_count: z.number().int().positive(),
  record_size: z.union([z.literal(24), z.literal(28), z.literal(32)]),
});

export type MmdbMetadata = z.infer<typeof metadataSchema>;

/** Types numbered as in the spec; 0 means "extended", resolved by the next byte. */
const enum DataType {
  Pointer = 1,
  Utf8 = 2,
  Double = 3,
  Bytes = 4,
  Uint16 = 5,
  Uint32 = 6,
  Map = 7,
  Int32 = 8,
  Uint64 = 9,
  Uint128 = 10,
  Array = 11,
  DataCacheContainer = 12,
  EndMarker = 13,
  Boolean = 14,
  Float = 15,
}

interface Decoded {
  readonly value: MmdbValue;
  readonly next: number;
}

/**
 * Decodes values from one section (data or metadata). `base` is where the section starts;
 * pointers inside the section are relative to it, offsets passed in are absolute.
 */
class SectionDecoder {
  constructor(
    private readonly buf: Buffer,
    private readonly base: number,
    private readonly end: number,
  ) {}

  decode(offset: number): Decoded {
    return this.decodeAt(offset, false);
  }

  private need(offset: number, size: number): void {
    if (offset < this.base || offset + size > this.end) {
      throw new MmdbFormatError(`data at offset ${offset} (+${size}) runs outside its section`);
    }
  }

  private byte(offset: number): number {
    this.need(offset, 1);
    // need() proved the index is in range.
    return this.buf[offset] as number;
  }

  private decodeAt(offset: number, viaPointer: boolean): Decoded {
    const ctrl = this.byte(offset);
    let pos = offset + 1;
    let type = ctrl >> 5;
    if (type === DataType.Pointer) {
      return this.followPointer(ctrl, pos, viaPointer);
    }
    if (type === 0) {
      type = 7 + this.byte(pos);
      pos += 1;
      if (type < DataType.Int32 || type > DataType.Float) {
        throw new MmdbFormatError(`invalid extended type ${type} at offset ${offset}`);
      }
    }
    let size = ctrl & 0x1f;
    if (size >= 29) {
      const extra = size - 28;
      this.need(pos, extra);
      const n = this.buf.readUIntBE(pos, extra);
      pos += extra;
      size = size === 29 ? 29 + n : size === 30 ? 285 + n : 65821 + n;
    }
    return this.decodeBody(type, size, pos, offset);
  }

  private followPointer(ctrl: number, pos: number, viaPointer: boolean): Decoded {
    // The spec forbids a pointer to a pointer; refusing it also rules out pointer cycles.
    if (viaPointer) {
      throw new MmdbFormatError(`pointer to a pointer at offset ${pos - 1}`);
    }
    const sizeBits = (ctrl >> 3) & 0x3;
    const low = ctrl & 0x7;
    const len = sizeBits + 1;
    this.need(pos, len);
    let target: number;
    switch (sizeBits) {
      case 0:
        target = low * 0x100 + this.buf.readUInt8(pos);
        break;
      case 1:
        target = low * 0x10000 + this.buf.readUInt16BE(pos) + 2048;
        break;
      case 2:
        target = low * 0x1000000 + this.buf.readUIntBE(pos, 3) + 526336;
        break;
      default:
        target = this.buf.readUInt32BE(pos);
        break;
    }
    const { value } = this.decodeAt(this.base + target, true);
    return { value, next: pos + len };
  }

  private decodeBody(type: number, size: number, pos: number, offset: number): Decoded {
    switch (type) {
      case DataType.Utf8:
        this.need(pos, size);
        return { value: this.buf.toString('utf8', pos, pos + size), next: pos + size };
      case DataType.Double:
        if (size !== 8) throw new MmdbFormatError(`double of size ${size} at offset ${offset}`);
        this.need(pos, 8);
        return { value: this.buf.readDoubleBE(pos), next: pos + 8 };
      case DataType.Float:
        if (size !== 4) throw new MmdbFormatError(`float of size ${size} at offset ${offset}`);
        this.need(pos, 4);
        return { value: this.buf.readFloatBE(pos), next: pos + 4 };
      case DataType.Bytes:
        this.need(pos, size);
        return { value: new Uint8Array(this.buf.subarray(pos, pos + size)), next: pos + size };
      case DataType.Uint16:
      case DataType.Uint32:
        return this.decodeUint(size, type === DataType.Uint16 ? 2 : 4, pos, offset);
      case DataType.Int32:
        return this.decodeInt32(size, pos, offset);
      case DataType.Uint64:
      case DataType.Uint128:
        return this.decodeBigUint(size, type === DataType.Uint64 ? 8 : 16, pos, offset);
      case DataType.Map:
        return this.decodeMap(size, pos, offset);
      case DataType.Array:
        return this.decodeArray(size, pos);
      case DataType.Boolean:
        if (size > 1) throw new MmdbFormatError(`boolean of size ${size} at offset ${offset}`);
        return { value: size === 1, next: pos };
      default:
        // Data cache containers and end markers never appear as values in a valid database.
        throw new MmdbFormatError(`unexpected data type ${type} at offset ${offset}`);
    }
  }

  private decodeUint(size: number, max: number, pos: number, offset: number): Decoded {
    if (size > max) throw new MmdbFormatError(`uint of ${size} bytes (max ${max}) at offset ${offset}`);
    this.need(pos, size);
    return { value: size === 0 ? 0 : this.buf.readUIntBE(pos, size), next: pos + size };
  }

  private decodeInt32(size: number, pos: number, offset: number): Decoded {
    if (size > 4) throw new MmdbFormatError(`int32 of ${size} bytes at offset ${offset}`);
    this.need(pos, size);
    // Shorter encodings are zero-padded on the left, so only the 4-byte form can be negative.
    const value = size === 0 ? 0 : size === 4 ? this.buf.readInt32BE(pos) : this.buf.readUIntBE(pos, size);
    return { value, next: pos + size };
  }

  private decodeBigUint(size: number, max: number, pos: number, offset: number): Decoded {
    if (size > max) throw new MmdbFormatError(`uint of ${size} bytes (max ${max}) at offset ${offset}`);
    this.need(pos, size);
    let value = 0n;
    for (let i = 0; i < size; i++) {
      value = (value << 8n) | BigInt(this.buf.readUInt8(pos + i));
    }
    return { value, next: pos + size };
  }

  private decodeMap(size: number, pos: number, offset: number): Decoded {
    const map = new Map<string, MmdbValue>();
    let cur = pos;
    for (let i = 0; i < size; i++) {
      const key = this.decodeAt(cur, false);
      if (typeof key.value !== 'string') {
        throw new MmdbFormatError(`map key is not a string in the map at offset ${offset}`);
      }
      const val = this.decodeAt(key.next, false);
      map.set(key.value, val.value);
      cur = val.next;
    }
    return { value: map, next: cur };
  }

  private decodeArray(size: number, pos: number): Decoded {
    const items: MmdbValue[] = [];
    let cur = pos;
    for (let i = 0; i < size; i++) {
      const item = this.decodeAt(cur, false);
      items.push(item.value);
      cur = item.next;
    }
    return { value: items, next: cur };
  }
}

/** Converts decoded maps to plain objects so zod can check the metadata's shape. */
function toPlain(value: MmdbValue): unknown {
  if (value instanceof Map) {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of value) out[k] = toPlain(v);
    return out;
  }
  if (Array.isArray(value)) return value.map((v: MmdbValue) => toPlain(v));
  return value;
}

/** Visitor for `walk`: one call per leaf, in ascending address order. */
export interface LeafVisitor {
  /**
   * `hi`/`lo` are the first and second 32 bits of the network's first address (for a 32-bit
   * tree only `hi` is used); `dataOffset` is -1 for a network with no record.
   */
  (hi: number, lo: number, prefixLength: number, dataOffset: number): void;
}

export interface WalkOptions {
  /** Bits of the tree to descend before walking, e.g. 96 zero bits to reach IPv4 in an IPv6 tree. */
  readonly startBits?: number;
  /**
   * Depth (relative to the start) past which subtrees are collapsed into one leaf, holding the
   * record of the shallowest, then leftmost, network inside. At most 64.
   */
  readonly maxDepth: number;
}

export class MmdbReader {
  readonly metadata: MmdbMetadata;
  private readonly dataStart: number;
  private readonly data: SectionDecoder;
  private readonly readLeft: (node: number) => number;
  private readonly readRight: (node: number) => number;

  private constructor(
    private readonly buf: Buffer,
    metadata: MmdbMetadata,
    dataEnd: number,
  ) {
    this.metadata = metadata;
    const treeSize = (metadata.node_count * metadata.record_size * 2) / 8;
    this.dataStart = treeSize + DATA_SECTION_SEPARATOR_SIZE;
    if (this.dataStart > dataEnd) {
      throw new MmdbFormatError(
        `search tree of ${metadata.node_count} nodes needs ${this.dataStart} bytes, file has ${dataEnd}`,
      );
    }
    this.data = new SectionDecoder(buf, this.dataStart, dataEnd);
    const b = buf;
    switch (metadata.record_size) {
      case 24:
        this.readLeft = (n) => b.readUIntBE(n * 6, 3);
        this.readRight = (n) => b.readUIntBE(n * 6 + 3, 3);
        break;
      case 28:
        // The middle byte's high nibble belongs to the left record, its low nibble to the right.
        this.readLeft = (n) => {
          const o = n * 7;
          return ((b.readUInt8(o + 3) & 0xf0) << 20) + b.readUIntBE(o, 3);
        };
        this.readRight = (n) => {
          const o = n * 7;
          return ((b.readUInt8(o + 3) & 0x0f) << 24) + b.readUIntBE(o + 4, 3);
        };
        break;
      default:
        this.readLeft = (n) => b.readUInt32BE(n * 8);
        this.readRight = (n) => b.readUInt32BE(n * 8 + 4);
        break;
    }
  }

  static fromBuffer(buf: Buffer): MmdbReader {
    const tailStart = Math.max(0, buf.length - METADATA_MAX_SIZE);
    const marker = buf.lastIndexOf(METADATA_MARKER);
    if (marker < tailStart) {
      throw new MmdbFormatError('no MaxMind DB metadata marker in the last 128 KiB: not an mmdb file');
    }
    const metaStart = marker + METADATA_MARKER.length;
    const raw = new SectionDecoder(buf, metaStart, buf.length).decode(metaStart).value;
    const parsed = metadataSchema.safeParse(toPlain(raw));
    if (!parsed.success) {
      throw new MmdbFormatError(`unsupported or invalid metadata: ${z.prettifyError(parsed.error)}`, {
        cause: parsed.error,
      });
    }
    return new MmdbReader(buf, parsed.data, marker);
  }

  /** Decodes the record at a data offset handed to a `LeafVisitor`. */
  decodeRecord(dataOffset: number): MmdbValue {
    return this.data.decode(this.dataStart + dataOffset).value;
  }

  private child(node: number, bit: number): number {
    return bit === 0 ? this.readLeft(node) : this.readRight(node);
  }

  /** Maps a record to: node index (>= 0), -1 for "no data", or -(2 + data offset). */
  private classify(record: number): number {
    const nodes = this.metadata.node_count;
    if (record < nodes) return record;
    if (record === nodes) return -1;
    const dataOffset = record - nodes - DATA_SECTION_SEPARATOR_SIZE;
    if (dataOffset < 0 || this.dataStart + dataOffset >= this.buf.length) {
      throw new MmdbFormatError(`search tree record ${record} points outside the data section`);
    }
    return -2 - dataOffset;
  }

  /**
   * Visits every network of the tree in ascending order. Iterative, so a deep or hostile tree
   * cannot overflow the call stack; depth is bounded by the address width, so it always ends.
   */
  walk(visit: LeafVisitor, options: WalkOptions): void {
    const bits = this.metadata.ip_version === 4 ? 32 : 128;
    const startBits = options.startBits ?? 0;
    const maxDepth = Math.min(options.maxDepth, bits - startBits, 64);
    let root = 0;
    for (let i = 0; i < startBits; i++) {
      const c = this.classify(this.child(root, 0));
      if (c < 0) {
        visit(0, 0, 0, c === -1 ? -1 : -2 - c);
        return;
      }
      root = c;
    }
    // Parallel stacks of (entry, depth, hi, lo) keep the walk allocation-free. An entry >= 0 is
    // a node still to expand; a negative one is a leaf in classify()'s encoding.
    const entryStack: number[] = [root];
    const depthStack: number[] = [0];
    const hiStack: number[] = [0];
    const loStack: number[] = [0];
    const width = bits - startBits;
    while (entryStack.length > 0) {
      const entry = entryStack.pop() as number;
      const depth = depthStack.pop() as number;
      const hi = hiStack.pop() as number;
      const lo = loStack.pop() as number;
      if (entry < 0) {
        visit(hi, lo, depth, entry === -1 ? -1 : -2 - entry);
        continue;
      }
      if (depth === width) {
        throw new MmdbFormatError(`search tree deeper than ${width} bits at node ${entry}`);
      }
      if (depth === maxDepth) {
        visit(hi, lo, depth, this.representative(entry, depth, width));
        continue;
      }
      // Right first so the left child is popped (and visited) first.
      const right = this.classify(this.child(entry, 1));
      entryStack.push(right);
      depthStack.push(depth + 1);
      if (depth < 32) {
        hiStack.push((hi | (1 << (31 - depth))) >>> 0);
        loStack.push(lo);
      } else {
        hiStack.push(hi);
        loStack.push((lo | (1 << (63 - depth))) >>> 0);
      }
      entryStack.push(this.classify(this.child(entry, 0)));
      depthStack.push(depth + 1);
      hiStack.push(hi);
      loStack.push(lo);
    }
  }

  /**
   * Finds the network holding an address, given as 32-bit words, most significant first: one
   * for an IPv4 tree, four for an IPv6 tree. `dataOffset` is -1 when it has no record.
   */
  findNetwork(words: readonly number[]): { prefixLength: number; dataOffset: number } {
    const bits = this.metadata.ip_version === 4 ? 32 : 128;
    if (words.length * 32 !== bits) {
      throw new RangeError(`an IPv${this.metadata.ip_version} tree needs ${bits / 32} address words`);
    }
    let node = 0;
    for (let depth = 0; depth < bits; depth++) {
      const word = words[depth >>> 5] ?? 0;
      const c = this.classify(this.child(node, (word >>> (31 - (depth & 31))) & 1));
      if (c < 0) return { prefixLength: depth + 1, dataOffset: c === -1 ? -1 : -2 - c };
      node = c;
    }
    throw new MmdbFormatError(`search tree deeper than ${bits} bits`);
  }

  /**
   * The record of the shallowest data leaf under `node` (breadth-first, so leftmost among
   * equals), or -1 when the subtree has no data.
   */
  private representative(node: number, depth: number, bits: number): number {
    let level = [node];
    for (let d = depth; d < bits && level.length > 0; d++) {
      const next: number[] = [];
      for (const n of level) {
        for (let bit = 0; bit <= 1; bit++) {
          const c = this.classify(this.child(n, bit));
          if (c <= -2) return -2 - c;
          if (c >= 0) next.push(c);
        }
      }
      level = next;
    }
    return -1;
  }
}
