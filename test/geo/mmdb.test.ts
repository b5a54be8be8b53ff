import { describe, expect, it } from 'vitest';
import { MmdbFormatError, MmdbReader, type MmdbValue } from '@global-iot/tools/geo/mmdb.js';
import { buildMmdb, F32, I32, Ptr, Raw, U16, type FixtureValue } from './mmdb-fixture.js';

interface Leaf {
  readonly start: string;
  readonly prefix: number;
  readonly record: MmdbValue | undefined;
}

function leaves(reader: MmdbReader, maxDepth: number): Leaf[] {
  const out: Leaf[] = [];
  reader.walk(
    (hi, lo, prefix, offset) => {
      out.push({ start: `${hi.toString(16)}:${lo.toString(16)}`, prefix, record: offset < 0 ? undefined : reader.decodeRecord(offset) });
    },
    { maxDepth },
  );
  return out;
}

function only(value: FixtureValue, dataPrefix: readonly number[] = []): MmdbValue | undefined {
  const reader = MmdbReader.fromBuffer(buildMmdb({ ipVersion: 4, networks: [{ cidr: '0.0.0.0/1', record: value }], dataPrefix }));
  return leaves(reader, 32)[0]?.record;
}

describe('MmdbReader data decoding', () => {
  it('decodes every data type the spec defines', () => {
    // Prepare
    const long = 'x'.repeat(300);
    const huge = 'y'.repeat(70_000);
    const value: FixtureValue = {
      short: 'Zürich',
      mid: 'm'.repeat(100),
      long,
      huge,
      double: -33.8688,
      float: new F32(1.5),
      bytes: new Uint8Array([1, 2, 3]),
      u16: new U16(65535),
      u32: 4_294_967_295,
      zero: 0,
      negative: new I32(-7),
      u64: 18_446_744_073_709_551_615n,
      u128: (1n << 127n) + 5n,
      list: ['a', 1, [true]],
      nested: { location: { latitude: 48.1, longitude: 11.6 } },
      yes: true,
      no: false,
      empty: {},
    };

    // Act
    const decoded = only(value);

    // Assess: the long strings first, so a failure does not print 70 kB
    expect(decoded).toBeInstanceOf(Map);
    const map = decoded as Map<string, MmdbValue>;
    expect(map.get('long') === long).toBe(true);
    expect(map.get('huge') === huge).toBe(true);
    map.delete('long');
    map.delete('huge');
    expect(map).toEqual(
      new Map<string, MmdbValue>([
        ['short', 'Zürich'],
        ['mid', 'm'.repeat(100)],
        ['double', -33.8688],
        ['float', 1.5],
        ['bytes', new Uint8Array([1, 2, 3])],
        ['u16', 65535],
        ['u32', 4_294_967_295],
        ['zero', 0],
        ['negative', -7],
        ['u64', 18_446_744_073_709_551_615n],
        ['u128', (1n << 127n) + 5n],
        ['list', ['a', 1, [true]]],
        ['nested', new Map([['location', new Map([['latitude', 48.1], ['longitude', 11.6]])]])],
        ['yes', true],
        ['no', false],
        ['empty', new Map()],
      ]),
    );
  });

  it('decodes short int32 and uint encodings as unsigned values', () => {
    // Prepare: int32 (extended type 8) with 2 bytes, uint32 with 3 bytes
    const value = new Raw([0xe2, 0x41, 0x61, 0x02, 0x01, 0xff, 0xff, 0x41, 0x62, 0xc3, 0x01, 0x00, 0x00]);

    // Act
    const decoded = only(value);

    // Assess
    expect(decoded).toEqual(new Map([['a', 0xffff], ['b', 0x10000]]));
  });

  it.each([
    { size: 0 as const, target: 100 },
    { size: 1 as const, target: 3000 },
    { size: 2 as const, target: 600_000 },
    { size: 3 as const, target: 600_100 },
  ])('follows a pointer encoded in $size extra bytes', ({ size, target }) => {
    // Prepare: a data section long enough for every pointer size, with "P" at the target
    const dataPrefix = new Array<number>(600_200).fill(0);
    dataPrefix.splice(target, 2, 0x41, 0x50);

    // Act
    const decoded = only({ k: new Ptr(target, size) }, dataPrefix);

    // Assess
    expect(decoded).toEqual(new Map([['k', 'P']]));
  });

  it('follows pointers used as map keys', () => {
    // Prepare: the key "country_code" stored once, then referenced
    const decoded = only({ a: new Ptr(0) }, [0x4c, ...Buffer.from('country_code')]);

    // Assess
    expect(decoded).toEqual(new Map([['a', 'country_code']]));
  });

  it.each<{ name: string; value: FixtureValue; dataPrefix?: number[]; message: RegExp }>([
    { name: 'a pointer to a pointer', value: new Ptr(0), dataPrefix: [0x20, 0x00], message: /pointer to a pointer/ },
    { name: 'a pointer past the section', value: new Ptr(5000), message: /outside its section/ },
    { name: 'a string past the section', value: new Raw([0x5c, 0x41]), message: /outside its section/ },
    { name: 'a non-string map key', value: new Raw([0xe1, 0xc1, 0x01, 0x41, 0x41]), message: /map key is not a string/ },
    { name: 'a double of 4 bytes', value: new Raw([0x64, 0, 0, 0, 0]), message: /double of size 4/ },
    { name: 'a float of 8 bytes', value: new Raw([0x08, 0x08, 0, 0, 0, 0, 0, 0, 0, 0]), message: /float of size 8/ },
    { name: 'a 3-byte uint16', value: new Raw([0xa3, 1, 2, 3]), message: /uint of 3 bytes/ },
    { name: 'a 5-byte int32', value: new Raw([0x05, 0x01, 1, 2, 3, 4, 5]), message: /int32 of 5 bytes/ },
    { name: 'a 9-byte uint64', value: new Raw([0x09, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9]), message: /uint of 9 bytes/ },
    { name: 'a boolean of size 2', value: new Raw([0x02, 0x07]), message: /boolean of size 2/ },
    { name: 'an end marker as a value', value: new Raw([0x00, 0x06]), message: /unexpected data type 13/ },
    { name: 'an unknown extended type', value: new Raw([0x00, 0x09]), message: /invalid extended type 16/ },
  ])('refuses $name', ({ value, dataPrefix, message }) => {
    // Prepare
    const reader = MmdbReader.fromBuffer(buildMmdb({ ipVersion: 4, networks: [{ cidr: '0.0.0.0/1', record: value }], dataPrefix }));

    // Act
    const act = (): unknown => leaves(reader, 32);

    // Assess
    expect(act).toThrow(MmdbFormatError);
    expect(act).toThrow(message);
  });
});

describe('MmdbReader metadata', () => {
  it('reads the metadata', () => {
    // Prepare
    const buf = buildMmdb({ ipVersion: 6, recordSize: 24, networks: [{ cidr: '2001:db8::/32', record: 'x' }], databaseType: 'City' });

    // Act
    const reader = MmdbReader.fromBuffer(buf);

    // Assess
    expect(reader.metadata).toMatchObject({ ip_version: 6, record_size: 24, database_type: 'City', build_epoch: 1_700_000_000 });
  });

  it('refuses a file without the metadata marker', () => {
    // Prepare
    const buf = Buffer.from('definitely not a MaxMind database');

    // Act
    const act = (): unknown => MmdbReader.fromBuffer(buf);

    // Assess
    expect(act).toThrow(/no MaxMind DB metadata marker/);
  });

  it.each<{ name: string; metadata: FixtureValue }>([
    { name: 'not a map', metadata: 'hello' },
    { name: 'major version 3', metadata: { binary_format_major_version: new U16(3), binary_format_minor_version: 0, build_epoch: 1, database_type: 'x', ip_version: new U16(4), node_count: 1, record_size: new U16(28) } },
    { name: 'record size 30', metadata: { binary_format_major_version: new U16(2), binary_format_minor_version: 0, build_epoch: 1, database_type: 'x', ip_version: new U16(4), node_count: 1, record_size: new U16(30) } },
    { name: 'no node count', metadata: { binary_format_major_version: new U16(2), binary_format_minor_version: 0, build_epoch: 1, database_type: 'x', ip_version: new U16(4), record_size: new U16(28) } },
  ])('refuses metadata that is $name', ({ metadata }) => {
    // Prepare
    const buf = buildMmdb({ ipVersion: 4, networks: [], metadata });

    // Act
    const act = (): unknown => MmdbReader.fromBuffer(buf);

    // Assess
    expect(act).toThrow(/unsupported or invalid metadata/);
  });

  it('refuses a node count larger than the file', () => {
    // Prepare
    const buf = buildMmdb({ ipVersion: 4, networks: [], rawTree: { bytes: [], nodeCount: 1000 } });

    // Act
    const act = (): unknown => MmdbReader.fromBuffer(buf);

    // Assess
    expect(act).toThrow(/search tree of 1000 nodes/);
  });
});

describe('MmdbReader search tree', () => {
  const networks = [
    { cidr: '0.0.0.0/2', record: 'A' },
    { cidr: '64.0.0.0/3', record: 'B' },
    { cidr: '128.0.0.0/1', record: 'C' },
    { cidr: '192.168.0.0/16', record: 'D' },
  ];

  it.each([24, 28, 32] as const)('walks every network in ascending order with %i-bit records', (recordSize) => {
    // Prepare
    const reader = MmdbReader.fromBuffer(buildMmdb({ ipVersion: 4, recordSize, networks }));

    // Act
    const walked = leaves(reader, 32);

    // Assess: leaves tile the whole space in order, and merge back into the networks
    let next = 0;
    for (const leaf of walked) {
      expect(Number.parseInt(leaf.start, 16)).toBe(next);
      next += 2 ** (32 - leaf.prefix);
    }
    expect(next).toBe(2 ** 32);
    const merged = walked.filter((l, i) => i === 0 || walked[i - 1]?.record !== l.record);
    expect(merged.map((l) => [l.start, l.record])).toEqual([
      ['0:0', 'A'],
      ['40000000:0', 'B'],
      ['60000000:0', undefined],
      ['80000000:0', 'C'],
      ['c0a80000:0', 'D'],
      ['c0a90000:0', 'C'],
    ]);
  });

  it('collapses subtrees below maxDepth into their shallowest record', () => {
    // Prepare: a /64 split into a /66 and a /65 of different records
    const reader = MmdbReader.fromBuffer(
      buildMmdb({
        ipVersion: 6,
        networks: [
          { cidr: '2001:db8:0:1::/66', record: 'small' },
          { cidr: '2001:db8:0:1:8000::/65', record: 'large' },
          { cidr: '2001:db8:0:2::/64', record: 'whole' },
        ],
      }),
    );

    // Act
    const walked = leaves(reader, 64).filter((l) => l.record !== undefined);

    // Assess
    expect(walked.map((l) => [l.start, l.prefix, l.record])).toEqual([
      ['20010db8:1', 64, 'large'],
      ['20010db8:2', 64, 'whole'],
    ]);
  });

  it('starts below ::/96 to read the IPv4 part of an IPv6 tree', () => {
    // Prepare
    const reader = MmdbReader.fromBuffer(buildMmdb({ ipVersion: 6, networks: [{ cidr: '10.0.0.0/8', record: 'ten' }] }));
    const out: string[] = [];

    // Act
    reader.walk((hi, _lo, prefix, offset) => offset >= 0 && out.push(`${hi.toString(16)}/${prefix}`), { startBits: 96, maxDepth: 32 });

    // Assess
    expect(out).toEqual(['a000000/8']);
  });

  it('finds the network holding an address', () => {
    // Prepare
    const reader = MmdbReader.fromBuffer(buildMmdb({ ipVersion: 4, networks }));

    // Act
    const found = reader.findNetwork([0xc0a80101]);
    const empty = reader.findNetwork([0x60000001]);

    // Assess
    expect(found.prefixLength).toBe(16);
    expect(reader.decodeRecord(found.dataOffset)).toBe('D');
    expect(empty).toEqual({ prefixLength: 3, dataOffset: -1 });
    expect(() => reader.findNetwork([1, 2])).toThrow(RangeError);
  });

  it('refuses a tree that loops instead of ending within 32 bits', () => {
    // Prepare: node 0 points at itself on both sides
    const reader = MmdbReader.fromBuffer(buildMmdb({ ipVersion: 4, recordSize: 24, networks: [], rawTree: { bytes: [0, 0, 0, 0, 0, 0], nodeCount: 1 } }));

    // Act
    const act = (): unknown => leaves(reader, 32);

    // Assess
    expect(act).toThrow(/deeper than 32 bits/);
    expect(() => reader.findNetwork([0])).toThrow(/deeper than 32 bits/);
  });

  it('refuses a record pointing past the data section', () => {
    // Prepare: node_count 1, left record far beyond the file
    const reader = MmdbReader.fromBuffer(
      buildMmdb({ ipVersion: 4, recordSize: 24, networks: [], rawTree: { bytes: [0xff, 0xff, 0xff, 0, 0, 1], nodeCount: 1 } }),
    );

    // Act
    const act = (): unknown => leaves(reader, 32);

    // Assess
    expect(act).toThrow(/points outside the data section/);
  });
});
