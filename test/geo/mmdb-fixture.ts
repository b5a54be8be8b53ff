/**
 * Writes small MaxMind DB files for tests, so every data type, pointer size, record size and
 * corruption can be exercised without the 134 MB real databases. Independent of the reader.
 */
import { parseIp } from '@global-iot/core/geo/address.js';

/** Wrappers for encodings a plain JS value cannot pick by itself. */
export class F32 {
  constructor(readonly value: number) {}
}
export class I32 {
  constructor(readonly value: number) {}
}
export class U16 {
  constructor(readonly value: number) {}
}
/** Pointer to a data-section offset; `size` forces one of the four encodings (0..3). */
export class Ptr {
  constructor(
    readonly offset: number,
    readonly size?: 0 | 1 | 2 | 3,
  ) {}
}
/** Bytes copied as they are, to craft invalid encodings. */
export class Raw {
  constructor(readonly bytes: readonly number[]) {}
}

export type FixtureValue =
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | F32
  | I32
  | U16
  | Ptr
  | Raw
  | readonly FixtureValue[]
  | { readonly [key: string]: FixtureValue };

function control(type: number, size: number): number[] {
  const out: number[] = [];
  let sizeBits: number;
  const extra: number[] = [];
  if (size < 29) sizeBits = size;
  else if (size < 285) {
    sizeBits = 29;
    extra.push(size - 29);
  } else if (size < 65821) {
    sizeBits = 30;
    const v = size - 285;
    extra.push(v >> 8, v & 0xff);
  } else {
    sizeBits = 31;
    const v = size - 65821;
    extra.push((v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
  }
  out.push(((type < 8 ? type : 0) << 5) | sizeBits);
  if (type >= 8) out.push(type - 7);
  return [...out, ...extra];
}

function beBytes(value: bigint | number, length: number): number[] {
  const out: number[] = [];
  let v = BigInt(value);
  for (let i = 0; i < length; i++) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

function minimalBytes(value: bigint | number): number[] {
  const out: number[] = [];
  let v = BigInt(value);
  while (v > 0n) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

function pointer(p: Ptr): number[] {
  const size = p.size ?? (p.offset < 2048 ? 0 : p.offset < 2048 + (1 << 19) ? 1 : p.offset < 526336 + (1 << 27) ? 2 : 3);
  switch (size) {
    case 0:
      return [0x20 | (p.offset >> 8), p.offset & 0xff];
    case 1: {
      const v = p.offset - 2048;
      return [0x28 | (v >> 16), (v >> 8) & 0xff, v & 0xff];
    }
    case 2: {
      const v = p.offset - 526336;
      return [0x30 | (v >> 24), (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
    }
    default:
      return [0x38, ...beBytes(p.offset, 4)];
  }
}

export function encodeValue(value: FixtureValue): number[] {
  if (value instanceof Raw) return [...value.bytes];
  if (value instanceof Ptr) return pointer(value);
  if (value instanceof F32) {
    const b = Buffer.alloc(4);
    b.writeFloatBE(value.value);
    return [...control(15, 4), ...b];
  }
  if (value instanceof I32) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value.value);
    return [...control(8, 4), ...b];
  }
  if (value instanceof U16) {
    const bytes = minimalBytes(value.value);
    return [...control(5, bytes.length), ...bytes];
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return [...control(2, bytes.length), ...bytes];
  }
  if (typeof value === 'boolean') return control(14, value ? 1 : 0);
  if (typeof value === 'bigint') {
    const bytes = minimalBytes(value);
    return [...control(bytes.length > 8 ? 10 : 9, bytes.length), ...bytes];
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) {
      const bytes = minimalBytes(value);
      return [...control(6, bytes.length), ...bytes];
    }
    const b = Buffer.alloc(8);
    b.writeDoubleBE(value);
    return [...control(3, 8), ...b];
  }
  if (value instanceof Uint8Array) return [...control(4, value.length), ...value];
  if (Array.isArray(value)) {
    return [...control(11, value.length), ...value.flatMap((v: FixtureValue) => encodeValue(v))];
  }
  const entries = Object.entries(value as { readonly [key: string]: FixtureValue });
  return [...control(7, entries.length), ...entries.flatMap(([k, v]) => [...encodeValue(k), ...encodeValue(v)])];
}

export interface FixtureNetwork {
  /** CIDR, e.g. `10.0.0.0/8` or `2001:db8::/32`; IPv4 in an IPv6 tree goes under ::/96. */
  readonly cidr: string;
  /** A value to encode into the data section, or `{ at }` for an offset already there. */
  readonly record: FixtureValue | { readonly at: number };
}

export interface FixtureOptions {
  readonly ipVersion: 4 | 6;
  readonly recordSize?: 24 | 28 | 32;
  readonly networks: readonly FixtureNetwork[];
  /** Written at the start of the data section, before any record. */
  readonly dataPrefix?: readonly number[];
  /** Replaces the metadata map. */
  readonly metadata?: FixtureValue;
  readonly databaseType?: string;
  /** Replaces the encoded search tree (node count then comes from `nodeCount`). */
  readonly rawTree?: { readonly bytes: readonly number[]; readonly nodeCount: number };
}

interface TrieNode {
  children: [TrieNode | number | undefined, TrieNode | number | undefined];
}

function cidrBits(cidr: string, ipVersion: 4 | 6): number[] {
  const [address = '', prefixText = ''] = cidr.split('/');
  const prefix = Number(prefixText);
  const parsed = parseIp(address);
  if (parsed === undefined) throw new Error(`bad fixture CIDR ${cidr}`);
  const words = parsed.family === 4 ? (ipVersion === 4 ? [parsed.value] : [0, 0, 0, parsed.value]) : [...parsed.words];
  const offset = parsed.family === 4 && ipVersion === 6 ? 96 : 0;
  const bits: number[] = [];
  for (let i = 0; i < prefix + offset; i++) bits.push(((words[i >>> 5] ?? 0) >>> (31 - (i & 31))) & 1);
  return bits;
}

function writeRecord(tree: number[], nodeIndex: number, recordSize: number, left: number, right: number): void {
  const at = (nodeIndex * recordSize * 2) / 8;
  if (recordSize === 24) {
    tree.splice(at, 6, ...beBytes(left, 3), ...beBytes(right, 3));
  } else if (recordSize === 28) {
    const l = beBytes(left, 4);
    const r = beBytes(right, 4);
    tree.splice(at, 7, l[1] ?? 0, l[2] ?? 0, l[3] ?? 0, ((l[0] ?? 0) << 4) | (r[0] ?? 0), r[1] ?? 0, r[2] ?? 0, r[3] ?? 0);
  } else {
    tree.splice(at, 8, ...beBytes(left, 4), ...beBytes(right, 4));
  }
}

/** Builds a complete .mmdb file image. */
export function buildMmdb(options: FixtureOptions): Buffer {
  const recordSize = options.recordSize ?? 28;
  const data: number[] = [...(options.dataPrefix ?? [])];
  const offsets = new Map<string, number>();
  const root: TrieNode = { children: [undefined, undefined] };
  for (const network of options.networks) {
    let offset: number;
    if (typeof network.record === 'object' && network.record !== null && 'at' in network.record && typeof network.record.at === 'number') {
      offset = network.record.at;
    } else {
      const bytes = encodeValue(network.record as FixtureValue);
      const key = bytes.join(',');
      offset = offsets.get(key) ?? data.length;
      if (!offsets.has(key)) {
        offsets.set(key, offset);
        for (const b of bytes) data.push(b);
      }
    }
    const bits = cidrBits(network.cidr, options.ipVersion);
    let node = root;
    bits.forEach((bit, i) => {
      const side = bit as 0 | 1;
      if (i === bits.length - 1) {
        node.children[side] = offset;
        return;
      }
      const next = node.children[side];
      if (typeof next === 'object') node = next;
      else {
        const created: TrieNode = { children: [next, next] };
        node.children[side] = created;
        node = created;
      }
    });
  }
  const nodes: TrieNode[] = [];
  const queue: TrieNode[] = [root];
  const numbers = new Map<TrieNode, number>();
  while (queue.length > 0) {
    const n = queue.shift() as TrieNode;
    numbers.set(n, nodes.length);
    nodes.push(n);
    for (const c of n.children) if (typeof c === 'object') queue.push(c);
  }
  const nodeCount = options.rawTree?.nodeCount ?? nodes.length;
  let tree: number[];
  if (options.rawTree !== undefined) tree = [...options.rawTree.bytes];
  else {
    tree = new Array<number>((nodeCount * recordSize * 2) / 8).fill(0);
    const recordOf = (c: TrieNode | number | undefined): number =>
      c === undefined ? nodeCount : typeof c === 'number' ? nodeCount + 16 + c : (numbers.get(c) ?? 0);
    nodes.forEach((n, i) => writeRecord(tree, i, recordSize, recordOf(n.children[0]), recordOf(n.children[1])));
  }
  const metadata =
    options.metadata ??
    ({
      binary_format_major_version: new U16(2),
      binary_format_minor_version: new U16(0),
      build_epoch: 1_700_000_000n,
      database_type: options.databaseType ?? 'fixture',
      description: { en: 'test fixture' },
      ip_version: new U16(options.ipVersion),
      languages: ['en'],
      node_count: nodeCount,
      record_size: new U16(recordSize),
    } satisfies FixtureValue);
  return Buffer.from([
    ...tree,
    ...new Array<number>(16).fill(0),
    ...data,
    ...Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1'),
    ...encodeValue(metadata),
  ]);
}
