/**
 * IP address parsing and special-purpose classification (IANA IPv4/IPv6 Special-Purpose Address
 * Registries). Hand-written rather than regex-based because it runs on every lookup.
 */

/** An IPv4 address as an unsigned 32-bit integer. */
export interface ParsedIpv4 {
  readonly family: 4;
  readonly value: number;
}

/** An IPv6 address as four unsigned 32-bit words, most significant first. */
export interface ParsedIpv6 {
  readonly family: 6;
  readonly words: readonly [number, number, number, number];
  /** RFC 4007 zone (`fe80::1%eth0`); it does not change where the address is. */
  readonly zone?: string;
}

export type ParsedIp = ParsedIpv4 | ParsedIpv6;

export type AddressClass = 'public' | 'private' | 'loopback' | 'link-local' | 'reserved' | 'invalid';

/** The class of an address that parsed. */
export type ValidAddressClass = Exclude<AddressClass, 'invalid'>;

// Longest IPv6 text form (8 groups with an embedded IPv4 tail) is 45 characters; the extra room
// is for a zone. Anything longer is refused before any parsing work.
const MAX_ADDRESS_LENGTH = 45;
const MAX_ZONE_LENGTH = 32;

const CODE_0 = 48;
const CODE_9 = 57;
const CODE_DOT = 46;
const CODE_COLON = 58;

/** Parses dotted-quad decimal in s[from, to); no leading zeros, as they read as octal elsewhere. */
function parseIpv4Range(s: string, from: number, to: number): number | undefined {
  let value = 0;
  let octets = 0;
  let i = from;
  while (octets < 4) {
    let octet = 0;
    let digits = 0;
    const start = i;
    while (i < to) {
      const c = s.charCodeAt(i);
      if (c < CODE_0 || c > CODE_9) break;
      octet = octet * 10 + (c - CODE_0);
      digits++;
      i++;
    }
    if (digits === 0 || digits > 3 || octet > 255) return undefined;
    if (digits > 1 && s.charCodeAt(start) === CODE_0) return undefined;
    value = value * 256 + octet;
    octets++;
    if (octets < 4) {
      if (i >= to || s.charCodeAt(i) !== CODE_DOT) return undefined;
      i++;
    }
  }
  return i === to ? value : undefined;
}

function hexValue(c: number): number {
  if (c >= CODE_0 && c <= CODE_9) return c - CODE_0;
  const lower = c | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/** Parses RFC 4291 text form in s[0, to), including `::` and an embedded IPv4 tail. */
function parseIpv6Range(s: string, to: number): [number, number, number, number] | undefined {
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let count = 0;
  let gap = -1;
  let i = 0;
  if (to >= 2 && s.charCodeAt(0) === CODE_COLON) {
    if (s.charCodeAt(1) !== CODE_COLON) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < to) {
    if (count === 8) return undefined;
    let group = 0;
    let digits = 0;
    let j = i;
    while (j < to && digits <= 4) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      group = group * 16 + h;
      digits++;
      j++;
    }
    if (j < to && s.charCodeAt(j) === CODE_DOT) {
      if (count > 6) return undefined;
      const v4 = parseIpv4Range(s, i, to);
      if (v4 === undefined) return undefined;
      groups[count++] = Math.floor(v4 / 0x10000);
      groups[count++] = v4 & 0xffff;
      break;
    }
    if (digits === 0 || digits > 4) return undefined;
    groups[count++] = group;
    if (j === to) break;
    if (s.charCodeAt(j) !== CODE_COLON) return undefined;
    if (j + 1 < to && s.charCodeAt(j + 1) === CODE_COLON) {
      if (gap !== -1) return undefined;
      gap = count;
      i = j + 2;
    } else {
      i = j + 1;
      // A single trailing colon leaves an empty last group.
      if (i === to) return undefined;
    }
  }
  if (gap === -1) {
    if (count !== 8) return undefined;
  } else {
    // `::` stands for at least one zero group.
    if (count > 7) return undefined;
    const tail = groups.slice(gap, count);
    groups.fill(0, gap);
    for (let k = 0; k < tail.length; k++) groups[8 - tail.length + k] = tail[k] as number;
  }
  const g = groups as [number, number, number, number, number, number, number, number];
  return [
    (g[0] * 0x10000 + g[1]) >>> 0,
    (g[2] * 0x10000 + g[3]) >>> 0,
    (g[4] * 0x10000 + g[5]) >>> 0,
    (g[6] * 0x10000 + g[7]) >>> 0,
  ];
}

function isZoneChar(c: number): boolean {
  return (
    (c >= CODE_0 && c <= CODE_9) ||
    ((c | 0x20) >= 97 && (c | 0x20) <= 122) ||
    c === 45 /* - */ ||
    c === 46 /* . */ ||
    c === 95 /* _ */
  );
}

/**
 * Parses an IPv4 dotted quad or an IPv6 address (RFC 4291 text forms, optional `%zone`).
 * Returns undefined for anything else, including non-strings, so callers never need a try/catch.
 */
export function parseIp(ip: string): ParsedIp | undefined {
  if (typeof ip !== 'string' || ip.length === 0 || ip.length > MAX_ADDRESS_LENGTH + 1 + MAX_ZONE_LENGTH) {
    return undefined;
  }
  let colon = false;
  let percent = -1;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === CODE_COLON) colon = true;
    else if (c === 37 /* % */) {
      percent = i;
      break;
    }
  }
  if (!colon) {
    if (percent !== -1 || ip.length > 15) return undefined;
    const value = parseIpv4Range(ip, 0, ip.length);
    return value === undefined ? undefined : { family: 4, value };
  }
  const end = percent === -1 ? ip.length : percent;
  if (end > MAX_ADDRESS_LENGTH) return undefined;
  let zone: string | undefined;
  if (percent !== -1) {
    const zoneLength = ip.length - percent - 1;
    if (zoneLength === 0 || zoneLength > MAX_ZONE_LENGTH) return undefined;
    for (let i = percent + 1; i < ip.length; i++) {
      if (!isZoneChar(ip.charCodeAt(i))) return undefined;
    }
    zone = ip.slice(percent + 1);
  }
  const words = parseIpv6Range(ip, end);
  if (words === undefined) return undefined;
  return zone === undefined ? { family: 6, words } : { family: 6, words, zone };
}

/** Formats an IPv4 integer as a dotted quad (for messages and tests). */
export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/**
 * The IPv4 address carried inside an IPv6 one where the IPv6 address only stands for it:
 * IPv4-mapped `::ffff:0:0/96` (dual-stack sockets) and the NAT64 well-known prefix
 * `64:ff9b::/96` (RFC 6052). Undefined otherwise.
 */
export function embeddedIpv4(words: readonly [number, number, number, number]): number | undefined {
  if (words[1] !== 0) return undefined;
  if (words[0] === 0 && words[2] === 0xffff) return words[3];
  if (words[0] === 0x0064ff9b && words[2] === 0) return words[3];
  return undefined;
}

interface Ipv4Block {
  readonly base: number;
  readonly prefix: number;
  readonly kind: Exclude<ValidAddressClass, 'public'>;
}

function v4(a: number, b: number, c: number, d: number, prefix: number, kind: Ipv4Block['kind']): Ipv4Block {
  return { base: ((a << 24) | (b << 16) | (c << 8) | d) >>> 0, prefix, kind };
}

/** IANA IPv4 Special-Purpose Address Registry, plus multicast and the former class E. */
const IPV4_BLOCKS: readonly Ipv4Block[] = [
  v4(0, 0, 0, 0, 8, 'reserved'), // "this network" (RFC 791)
  v4(10, 0, 0, 0, 8, 'private'), // RFC 1918
  v4(100, 64, 0, 0, 10, 'private'), // shared address space, carrier-grade NAT (RFC 6598)
  v4(127, 0, 0, 0, 8, 'loopback'),
  v4(169, 254, 0, 0, 16, 'link-local'), // RFC 3927
  v4(172, 16, 0, 0, 12, 'private'), // RFC 1918
  v4(192, 0, 0, 0, 24, 'reserved'), // IETF protocol assignments (RFC 6890)
  v4(192, 0, 2, 0, 24, 'reserved'), // TEST-NET-1 (RFC 5737)
  v4(192, 31, 196, 0, 24, 'reserved'), // AS112-v4 (RFC 7535)
  v4(192, 52, 193, 0, 24, 'reserved'), // AMT (RFC 7450)
  v4(192, 88, 99, 0, 24, 'reserved'), // deprecated 6to4 relay anycast (RFC 7526)
  v4(192, 168, 0, 0, 16, 'private'), // RFC 1918
  v4(192, 175, 48, 0, 24, 'reserved'), // direct delegation AS112 (RFC 7534)
  v4(198, 18, 0, 0, 15, 'reserved'), // benchmarking (RFC 2544)
  v4(198, 51, 100, 0, 24, 'reserved'), // TEST-NET-2 (RFC 5737)
  v4(203, 0, 113, 0, 24, 'reserved'), // TEST-NET-3 (RFC 5737)
  v4(224, 0, 0, 0, 4, 'reserved'), // multicast (RFC 5771)
  v4(240, 0, 0, 0, 4, 'reserved'), // former class E and the limited broadcast address
];

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function classifyIpv4(value: number): ValidAddressClass {
  for (const block of IPV4_BLOCKS) {
    if ((value & maskOf(block.prefix)) >>> 0 === block.base) return block.kind;
  }
  return 'public';
}

interface Ipv6Block {
  /** Most significant 64 bits of the prefix, as two words. */
  readonly hi: number;
  readonly lo: number;
  readonly prefix: number;
  readonly kind: Exclude<ValidAddressClass, 'public'>;
}

function v6(hi: number, lo: number, prefix: number, kind: Ipv6Block['kind']): Ipv6Block {
  return { hi, lo, prefix, kind };
}

function inV6Block(words: readonly [number, number, number, number], b: Ipv6Block): boolean {
  if (b.prefix <= 32) return (words[0] & maskOf(b.prefix)) >>> 0 === b.hi;
  return words[0] === b.hi && (words[1] & maskOf(b.prefix - 32)) >>> 0 === b.lo;
}

/**
 * IANA IPv6 Special-Purpose Address Registry entries inside global unicast 2000::/3, checked
 * after the whole-address cases in classifyIpv6. Everything outside 2000::/3 that is not listed
 * there is unassigned and reads as reserved.
 */
const IPV6_GLOBAL_UNICAST_BLOCKS: readonly Ipv6Block[] = [
  v6(0x20010db8, 0, 32, 'reserved'), // documentation (RFC 3849)
  v6(0x20010000, 0, 23, 'reserved'), // IETF protocol assignments incl. Teredo, ORCHID (RFC 2928)
  v6(0x20020000, 0, 16, 'reserved'), // 6to4 (RFC 3056, deprecated by RFC 7526)
  v6(0x3fff0000, 0, 20, 'reserved'), // documentation (RFC 9637)
];

const IPV6_OTHER_BLOCKS: readonly Ipv6Block[] = [
  v6(0x0064ff9b, 0x00010000, 48, 'private'), // local-use NAT64 (RFC 8215)
  v6(0x01000000, 0, 64, 'reserved'), // discard-only (RFC 6666)
  v6(0x5f000000, 0, 16, 'reserved'), // SRv6 SIDs (RFC 9602)
  v6(0xfc000000, 0, 7, 'private'), // unique local (RFC 4193)
  v6(0xfe800000, 0, 10, 'link-local'), // RFC 4291
  v6(0xfec00000, 0, 10, 'private'), // deprecated site-local (RFC 3879)
  v6(0xff000000, 0, 8, 'reserved'), // multicast
];

function classifyIpv6(words: readonly [number, number, number, number]): ValidAddressClass {
  const mapped = embeddedIpv4(words);
  if (mapped !== undefined) return classifyIpv4(mapped);
  if (words[0] === 0 && words[1] === 0 && words[2] === 0) {
    if (words[3] === 1) return 'loopback';
    // The unspecified address and the deprecated IPv4-compatible form.
    return 'reserved';
  }
  if (words[0] >>> 29 === 1) {
    for (const block of IPV6_GLOBAL_UNICAST_BLOCKS) {
      if (inV6Block(words, block)) return block.kind;
    }
    return 'public';
  }
  for (const block of IPV6_OTHER_BLOCKS) {
    if (inV6Block(words, block)) return block.kind;
  }
  return 'reserved';
}

/** Classifies a parsed address; see classifyAddress. */
export function classifyParsed(ip: ParsedIp): ValidAddressClass {
  return ip.family === 4 ? classifyIpv4(ip.value) : classifyIpv6(ip.words);
}

/**
 * Says whether an address can be located on the public Internet. Anything but 'public' should be
 * routed to the default region: it is either not routable, shared by many networks, or garbage.
 */
export function classifyAddress(ip: string): AddressClass {
  const parsed = parseIp(ip);
  return parsed === undefined ? 'invalid' : classifyParsed(parsed);
}
