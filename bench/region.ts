/**
 * Region choice benchmark: what ranking the candidates costs the bootstrap per request, with
 * the network-distance model (the default) and with great-circle distance, for the five demo
 * regions and for every region. Random points on land and sea alike, one chooser per policy,
 * compiled once as the bootstrap does.
 *
 *   tsx bench/region.ts
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileRegionPolicy, type RegionRanking } from '@global-iot/core/region-choice.js';
import { REGION_CATALOGUE } from '@global-iot/core/regions.js';

const CALLS = 200_000;
const RUNS = 5;
const DEFAULT_5 = ['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1', 'ap-southeast-2'];
const ALL = REGION_CATALOGUE.map((region) => region.code);

/** Fixed points, so runs compare: a linear congruential walk over the globe. */
function points(count: number): { lat: number; lon: number }[] {
  let seed = 42;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Array.from({ length: count }, () => ({ lat: next() * 180 - 90, lon: next() * 360 - 180 }));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Median over runs of the mean time of one `choose` call, in µs. */
function timeChoose(enabled: readonly string[], ranking: RegionRanking, locations: readonly { lat: number; lon: number }[]): number {
  const chooser = compileRegionPolicy({ enabled, defaultRegion: enabled[0], ranking });
  let sink = 0;
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    for (const location of locations) sink += chooser.choose({ location }).region.length;
    runs.push(((performance.now() - started) * 1000) / locations.length);
  }
  if (sink === 0) throw new Error('the chooser answered nothing');
  return Math.round(median(runs) * 100) / 100;
}

export function benchRegion(): Promise<Record<string, number>> {
  const locations = points(CALLS);
  // Warm the JIT on both paths before anything is timed.
  timeChoose(ALL, 'network', locations.slice(0, 20_000));
  timeChoose(ALL, 'great-circle', locations.slice(0, 20_000));
  return Promise.resolve({
    'region.choose_network_5_regions_us': timeChoose(DEFAULT_5, 'network', locations),
    'region.choose_network_all_regions_us': timeChoose(ALL, 'network', locations),
    'region.choose_great_circle_5_regions_us': timeChoose(DEFAULT_5, 'great-circle', locations),
    'region.choose_great_circle_all_regions_us': timeChoose(ALL, 'great-circle', locations),
  });
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  console.log(JSON.stringify(await benchRegion(), null, 2));
}
