import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyAddress, embeddedIpv4, formatIpv4, parseIp, type AddressClass } from '@global-iot/core/geo/address.js';

function hex(words: readonly number[]): string {
  return words.map((w) => w.toString(16).padStart(8, '0')).join(' ');
}

describe('parseIp', () => {
  it.each([
    { ip: '0.0.0.0', value: 0 },
    { ip: '255.255.255.255', value: 0xffffffff },
    { ip: '192.0.2.1', value: 0xc0000201 },
  ])('parses IPv4 $ip', ({ ip, value }) => {
    // Act
    const parsed = parseIp(ip);

    // Assess
    expect(parsed).toEqual({ family: 4, value });
  });

  it.each([
    { ip: '::', words: '00000000 00000000 00000000 00000000' },
    { ip: '::1', words: '00000000 00000000 00000000 00000001' },
    { ip: '1::', words: '00010000 00000000 00000000 00000000' },
    { ip: '2001:DB8::8:800:200C:417A', words: '20010db8 00000000 00080800 200c417a' },
    { ip: '2001:db8:0:0:1:0:0:1', words: '20010db8 00000000 00010000 00000001' },
    { ip: '1:2:3:4:5:6:7::', words: '00010002 00030004 00050006 00070000' },
    { ip: '::2:3:4:5:6:7:8', words: '00000002 00030004 00050006 00070008' },
    { ip: '::ffff:192.0.2.128', words: '00000000 00000000 0000ffff c0000280' },
    { ip: '1:2:3:4:5:6:1.2.3.4', words: '00010002 00030004 00050006 01020304' },
  ])('parses IPv6 $ip', ({ ip, words }) => {
    // Act
    const parsed = parseIp(ip);

    // Assess
    expect(parsed?.family).toBe(6);
    expect(parsed?.family === 6 ? hex(parsed.words) : undefined).toBe(words);
  });

  it('keeps an IPv6 zone apart from the address', () => {
    // Act
    const parsed = parseIp('fe80::1%eth0');

    // Assess
    expect(parsed).toEqual({ family: 6, words: [0xfe800000, 0, 0, 1], zone: 'eth0' });
  });

  it.each([
    '',
    ' ',
    '1.2.3',
    '1.2.3.4.5',
    '999.1.1.1',
    '256.0.0.1',
    '01.2.3.4',
    '1.2.3.04',
    '1..2.3',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1.2.3.-4',
    '0x1.2.3.4',
    '1.2.3.4%eth0',
    '::g',
    ':::',
    ':1::',
    '1:::2',
    '1::2::3',
    ':',
    '1:',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6::7:8',
    '::12345',
    '::1.2.3',
    '::1.2.3.256',
    '1:2:3:4:5:6:7:1.2.3.4',
    '::ffff:01.2.3.4',
    '[::1]',
    'fe80::1%',
    'fe80::1%e th0',
    'fe80::1%' + 'a'.repeat(40),
    'localhost',
    'x'.repeat(100_000),
    '1.2.3.4'.repeat(1000),
    '\u0661.\u0662.\u0663.\u0664',
  ])('refuses %j', (ip) => {
    // Act
    const parsed = parseIp(ip);

    // Assess
    expect(parsed).toBeUndefined();
    expect(classifyAddress(ip)).toBe('invalid');
  });

  it('refuses non-string input from untyped callers', () => {
    // Prepare
    const inputs: unknown[] = [undefined, null, 1234, { ip: '1.2.3.4' }, ['1.2.3.4']];

    // Act
    const results = inputs.map((input) => parseIp(input as string));

    // Assess
    expect(results).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('round-trips every IPv4 address through its dotted quad', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (value) => {
        // Act
        const parsed = parseIp(formatIpv4(value));

        // Assess
        expect(parsed).toEqual({ family: 4, value });
      }),
    );
  });

  it('reads IPv6 addresses as the WHATWG URL parser writes them, compressed or not', () => {
    const word = fc.integer({ min: 0, max: 0xffffffff });
    // Zero-heavy words make `::` runs likely.
    const sparse = fc.oneof(word, fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.tuple(sparse, sparse, sparse, sparse), (words) => {
        // Prepare
        const full = words.map((w) => `${(w >>> 16).toString(16)}:${(w & 0xffff).toString(16)}`).join(':');
        const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);

        // Act
        const a = parseIp(full);
        const b = parseIp(compressed);

        // Assess
        expect(a).toEqual({ family: 6, words });
        expect(b).toEqual({ family: 6, words });
      }),
    );
  });

  it('accepts exactly what node:net accepts (without zones)', () => {
    const token = fc.constantFrom('0', '1', '9', 'a', 'F', 'ffff', '12345', '00', '255', '256', '01', ':', '::', '.', '1.2.3.4', 'g');
    fc.assert(
      fc.property(fc.array(token, { maxLength: 14 }), (tokens) => {
        // Prepare
        const text = tokens.join('');

        // Act
        const ours = parseIp(text);

        // Assess
        expect(ours === undefined ? 0 : ours.family).toBe(isIP(text));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('classifyAddress', () => {
  it.each<[string, AddressClass]>([
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['100.63.255.255', 'public'],
    ['100.128.0.0', 'public'],
    ['172.15.255.255', 'public'],
    ['172.32.0.0', 'public'],
    ['192.169.0.1', 'public'],
    ['198.17.255.255', 'public'],
    ['198.20.0.0', 'public'],
    ['223.255.255.255', 'public'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'reserved'],
    ['0.1.2.3', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['192.88.99.1', 'reserved'],
    ['224.0.0.1', 'reserved'],
    ['239.255.255.250', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['2001:4860:4860::8888', 'public'],
    ['2600:1f18::1', 'public'],
    ['2a00:1450:4001:81b::200e', 'public'],
    ['2001:200::1', 'public'],
    ['::1', 'loopback'],
    ['::', 'reserved'],
    ['::1.2.3.4', 'reserved'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fec0::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['ff02::1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['2001:db8:ffff::1', 'reserved'],
    ['2001::1', 'reserved'],
    ['2001:2::1', 'reserved'],
    ['2002:c000:0204::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['100::1', 'reserved'],
    ['5f00::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['1000::1', 'reserved'],
    ['64:ff9b:1::1', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.0.1', 'link-local'],
    ['::ffff:7f00:1', 'loopback'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['64:ff9b::192.168.0.1', 'private'],
    ['::ffff:0:8.8.8.8', 'reserved'],
    ['', 'invalid'],
    ['not an ip', 'invalid'],
  ])('%s is %s', (ip, expected) => {
    // Act
    const kind = classifyAddress(ip);

    // Assess
    expect(kind).toBe(expected);
  });
});

describe('embeddedIpv4', () => {
  it('finds IPv4 only in the mapped and NAT64 prefixes', () => {
    // Act
    const mapped = embeddedIpv4([0, 0, 0xffff, 0x08080808]);
    const nat64 = embeddedIpv4([0x0064ff9b, 0, 0, 0x08080808]);
    const translated = embeddedIpv4([0, 0, 0xffff0000, 0x08080808]);
    const other = embeddedIpv4([0x20010db8, 0, 0xffff, 0x08080808]);

    // Assess
    expect([mapped, nat64, translated, other]).toEqual([0x08080808, 0x08080808, undefined, undefined]);
  });
});
