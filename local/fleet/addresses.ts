import type { Continent } from '@global-iot/core/regions.js';

/**
 * Where the simulated devices "are": real public /24 networks on every continent, as the demo
 * bootstrap sees them through its simulated-source-address header. Each network is listed with
 * the country the bundled geolocation table (DB-IP Lite City) places all of its 256 addresses in;
 * `checkRanges` verifies that at start, so the map shows devices where the demo says they are.
 * Holders are named only where the network is a well-known service's.
 */

export interface AddressRange {
  /** The first three octets of the /24. */
  readonly prefix: string;
  /** ISO 3166-1 alpha-2, as the geolocation table has it. */
  readonly country: string;
  readonly continent: Continent;
  readonly place: string;
}

export const DEMO_RANGES: readonly AddressRange[] = [
  // North America
  { prefix: '8.8.8', country: 'US', continent: 'North America', place: 'Mountain View (Google Public DNS)' },
  { prefix: '199.7.83', country: 'US', continent: 'North America', place: 'Los Angeles (ICANN, l.root-servers.net)' },
  { prefix: '67.160.0', country: 'US', continent: 'North America', place: 'Seattle area' },
  { prefix: '68.80.0', country: 'US', continent: 'North America', place: 'Pennsylvania' },
  { prefix: '98.0.0', country: 'US', continent: 'North America', place: 'New York' },
  { prefix: '71.0.0', country: 'US', continent: 'North America', place: 'Orlando' },
  { prefix: '76.0.0', country: 'US', continent: 'North America', place: 'Kansas City' },
  { prefix: '24.48.0', country: 'CA', continent: 'North America', place: 'Montréal' },
  { prefix: '24.114.0', country: 'CA', continent: 'North America', place: 'Toronto' },
  { prefix: '174.0.0', country: 'CA', continent: 'North America', place: 'Calgary' },
  { prefix: '201.144.0', country: 'MX', continent: 'North America', place: 'Mexico City' },
  // South America
  { prefix: '200.160.0', country: 'BR', continent: 'South America', place: 'São Paulo (NIC.br)' },
  { prefix: '177.0.0', country: 'BR', continent: 'South America', place: 'Rio de Janeiro' },
  { prefix: '2.16.0', country: 'BR', continent: 'South America', place: 'Porto Alegre' },
  { prefix: '190.210.0', country: 'AR', continent: 'South America', place: 'Buenos Aires' },
  { prefix: '200.1.123', country: 'CL', continent: 'South America', place: 'Santiago' },
  { prefix: '181.48.0', country: 'CO', continent: 'South America', place: 'Bogotá' },
  { prefix: '200.48.0', country: 'PE', continent: 'South America', place: 'Lima' },
  // Europe
  { prefix: '193.0.6', country: 'NL', continent: 'Europe', place: 'Amsterdam (RIPE NCC)' },
  { prefix: '212.58.224', country: 'GB', continent: 'Europe', place: 'London (BBC)' },
  { prefix: '194.25.0', country: 'DE', continent: 'Europe', place: 'Darmstadt' },
  { prefix: '85.214.0', country: 'DE', continent: 'Europe', place: 'Berlin' },
  { prefix: '62.4.0', country: 'FR', continent: 'Europe', place: 'Paris' },
  { prefix: '80.58.0', country: 'ES', continent: 'Europe', place: 'Madrid' },
  { prefix: '79.0.0', country: 'IT', continent: 'Europe', place: 'Milan' },
  { prefix: '83.0.0', country: 'PL', continent: 'Europe', place: 'Warsaw' },
  { prefix: '78.64.0', country: 'SE', continent: 'Europe', place: 'Stockholm' },
  { prefix: '213.180.204', country: 'RU', continent: 'Europe', place: 'Moscow (Yandex)' },
  // Africa
  { prefix: '196.216.2', country: 'ZA', continent: 'Africa', place: 'Johannesburg (AFRINIC services)' },
  { prefix: '196.25.1', country: 'ZA', continent: 'Africa', place: 'Pretoria area' },
  { prefix: '41.203.64', country: 'NG', continent: 'Africa', place: 'Lagos' },
  { prefix: '41.32.0', country: 'EG', continent: 'Africa', place: 'Cairo area' },
  { prefix: '41.89.0', country: 'KE', continent: 'Africa', place: 'Nairobi' },
  { prefix: '41.248.0', country: 'MA', continent: 'Africa', place: 'Morocco' },
  // Asia
  { prefix: '202.12.27', country: 'JP', continent: 'Asia', place: 'Tokyo area (WIDE, m.root-servers.net)' },
  { prefix: '168.126.63', country: 'KR', continent: 'Asia', place: 'Seoul area (KT DNS)' },
  { prefix: '180.76.76', country: 'CN', continent: 'Asia', place: 'Beijing (Baidu DNS)' },
  { prefix: '114.114.114', country: 'CN', continent: 'Asia', place: 'Jinan (114DNS)' },
  { prefix: '122.160.0', country: 'IN', continent: 'Asia', place: 'New Delhi' },
  { prefix: '203.116.0', country: 'SG', continent: 'Asia', place: 'Singapore' },
  { prefix: '202.188.0', country: 'MY', continent: 'Asia', place: 'Kuala Lumpur' },
  { prefix: '36.64.0', country: 'ID', continent: 'Asia', place: 'Jakarta' },
  { prefix: '112.198.0', country: 'PH', continent: 'Asia', place: 'Manila' },
  { prefix: '113.160.0', country: 'VN', continent: 'Asia', place: 'Hanoi' },
  { prefix: '94.200.0', country: 'AE', continent: 'Asia', place: 'Abu Dhabi' },
  // Oceania
  { prefix: '1.1.1', country: 'AU', continent: 'Oceania', place: 'Sydney (APNIC / Cloudflare)' },
  { prefix: '202.12.29', country: 'AU', continent: 'Oceania', place: 'Brisbane (APNIC)' },
  { prefix: '139.130.4', country: 'AU', continent: 'Oceania', place: 'Sydney (Telstra DNS)' },
  { prefix: '101.160.0', country: 'AU', continent: 'Oceania', place: 'Townsville' },
  { prefix: '210.48.0', country: 'NZ', continent: 'Oceania', place: 'Auckland' },
  { prefix: '202.7.0', country: 'NZ', continent: 'Oceania', place: 'Wellington' },
];

export class AddressRangeMismatch extends Error {
  override name = 'AddressRangeMismatch';
}

export interface Geolocator {
  lookup(ip: string): { readonly lat: number; readonly lon: number; readonly country: string } | undefined;
}

/** Throws unless every address of every range geolocates to the range's country. */
export function checkRanges(geo: Geolocator, ranges: readonly AddressRange[] = DEMO_RANGES): void {
  const wrong: string[] = [];
  for (const range of ranges) {
    for (let host = 1; host <= 254; host += 1) {
      const ip = `${range.prefix}.${host}`;
      const point = geo.lookup(ip);
      if (point?.country !== range.country) {
        wrong.push(`${ip} is in ${point?.country ?? 'no known country'}, not ${range.country} (${range.place})`);
        break;
      }
    }
  }
  if (wrong.length > 0) throw new AddressRangeMismatch(`the geolocation table disagrees with the demo's address list:\n${wrong.join('\n')}`);
}

/** The ranges reordered so that consecutive ones are on different continents where possible. */
export function interleaveByContinent(ranges: readonly AddressRange[]): AddressRange[] {
  const groups = new Map<Continent, AddressRange[]>();
  for (const range of ranges) groups.set(range.continent, [...(groups.get(range.continent) ?? []), range]);
  const queues = [...groups.values()];
  const out: AddressRange[] = [];
  for (let i = 0; out.length < ranges.length; i += 1) {
    for (const queue of queues) {
      const range = queue[i];
      if (range !== undefined) out.push(range);
    }
  }
  return out;
}

const interleavedCache = new WeakMap<readonly AddressRange[], AddressRange[]>();

/**
 * The simulated address of device `index`: the ranges are taken in turn, continents
 * interleaved, so even a handful of devices is spread over the world; the host part spreads
 * devices over the /24.
 */
export function simulatedAddress(index: number, ranges: readonly AddressRange[] = DEMO_RANGES): { ip: string; range: AddressRange } {
  let order = interleavedCache.get(ranges);
  if (order === undefined) {
    order = interleaveByContinent(ranges);
    interleavedCache.set(ranges, order);
  }
  const range = order[index % order.length];
  if (range === undefined) throw new AddressRangeMismatch('no address ranges');
  const round = Math.floor(index / ranges.length);
  // 1..254, different for each pass over the list.
  const host = ((round * 97 + 11) % 254) + 1;
  return { ip: `${range.prefix}.${host}`, range };
}
