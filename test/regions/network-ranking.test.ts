import { describe, expect, it } from 'vitest';
import { loadGeoTable } from '@global-iot/core/geo/table.js';
import { DEMO_RANGES } from '@global-iot/local/fleet/addresses.js';
import { compileRttModel, defaultRttTable, rankByEstimatedRtt } from '@global-iot/core/network/rtt-model.js';
import { InvalidRegionPolicy, compileRegionPolicy, type RegionPolicy } from '@global-iot/core/region-choice.js';
import { REGION_CATALOGUE } from '@global-iot/core/regions.js';

/**
 * Where a device that measures nothing goes, on every continent, under the network-distance
 * model. Each expectation follows the published round trips in core/network/rtt-table.json
 * (Azure's P95 figures between the metros named in the comments); none is a near tie, so a
 * refresh of the table that moves one is a change to look at, not noise.
 */

const ALL = REGION_CATALOGUE.map((region) => region.code);
/** The local cloud's and the demo's regions. */
const DEFAULT_5 = ['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1', 'ap-southeast-2'];

function chooser(enabled: readonly string[], overrides: Partial<RegionPolicy> = {}): ReturnType<typeof compileRegionPolicy> {
  return compileRegionPolicy({ enabled, defaultRegion: enabled[0], ...overrides });
}

// City points from GeoNames (cities1000), rounded to 2 decimals.
const PLACES = {
  Johannesburg: { lat: -26.2, lon: 28.04, country: 'ZA' },
  'Cape Town': { lat: -33.93, lon: 18.42, country: 'ZA' },
  Windhoek: { lat: -22.56, lon: 17.08, country: 'NA' },
  Gaborone: { lat: -24.65, lon: 25.91, country: 'BW' },
  Maputo: { lat: -25.97, lon: 32.58, country: 'MZ' },
  Harare: { lat: -17.83, lon: 31.05, country: 'ZW' },
  Lagos: { lat: 6.45, lon: 3.39, country: 'NG' },
  Casablanca: { lat: 33.59, lon: -7.62, country: 'MA' },
  Frankfurt: { lat: 50.12, lon: 8.68, country: 'DE' },
  London: { lat: 51.51, lon: -0.13, country: 'GB' },
  Lisbon: { lat: 38.72, lon: -9.13, country: 'PT' },
  Stockholm: { lat: 59.33, lon: 18.07, country: 'SE' },
  Istanbul: { lat: 41.01, lon: 28.95, country: 'TR' },
  Reykjavik: { lat: 64.14, lon: -21.9, country: 'IS' },
  Tokyo: { lat: 35.69, lon: 139.69, country: 'JP' },
  Seoul: { lat: 37.57, lon: 126.98, country: 'KR' },
  Jakarta: { lat: -6.21, lon: 106.85, country: 'ID' },
  Manila: { lat: 14.6, lon: 120.98, country: 'PH' },
  Dubai: { lat: 25.08, lon: 55.31, country: 'AE' },
  Riyadh: { lat: 24.69, lon: 46.72, country: 'SA' },
  Manama: { lat: 26.23, lon: 50.59, country: 'BH' },
  'New York': { lat: 40.71, lon: -74.01, country: 'US' },
  Chicago: { lat: 41.85, lon: -87.65, country: 'US' },
  'Los Angeles': { lat: 34.05, lon: -118.24, country: 'US' },
  Seattle: { lat: 47.61, lon: -122.33, country: 'US' },
  Toronto: { lat: 43.71, lon: -79.4, country: 'CA' },
  'Mexico City': { lat: 19.43, lon: -99.13, country: 'MX' },
  Honolulu: { lat: 21.31, lon: -157.86, country: 'US' },
  Anchorage: { lat: 61.22, lon: -149.9, country: 'US' },
  'São Paulo': { lat: -23.55, lon: -46.64, country: 'BR' },
  'Buenos Aires': { lat: -34.61, lon: -58.38, country: 'AR' },
  Santiago: { lat: -33.46, lon: -70.65, country: 'CL' },
  Lima: { lat: -12.04, lon: -77.03, country: 'PE' },
  Bogotá: { lat: 4.61, lon: -74.08, country: 'CO' },
  Sydney: { lat: -33.87, lon: 151.21, country: 'AU' },
  Perth: { lat: -31.95, lon: 115.86, country: 'AU' },
  Auckland: { lat: -36.85, lon: 174.76, country: 'NZ' },
  Christchurch: { lat: -43.53, lon: 172.63, country: 'NZ' },
  Suva: { lat: -18.14, lon: 178.44, country: 'FJ' },
  Mumbai: { lat: 19.07, lon: 72.88, country: 'IN' },
  Bengaluru: { lat: 12.97, lon: 77.59, country: 'IN' },
  Delhi: { lat: 28.65, lon: 77.23, country: 'IN' },
} as const;
type Place = keyof typeof PLACES;

describe('network ranking: a device with no measurements, on every continent', () => {
  it.each<[string, Place, string, string]>([
    // Africa. Johannesburg to Frankfurt 174 ms, to Virginia 225, to São Paulo 326; to Dubai 104.
    ['Africa', 'Johannesburg', 'eu-central-1', 'me-central-1'],
    ['Africa', 'Cape Town', 'eu-central-1', 'me-central-1'],
    ['Africa', 'Windhoek', 'eu-central-1', 'me-central-1'],
    ['Africa', 'Gaborone', 'eu-central-1', 'me-central-1'],
    ['Africa', 'Maputo', 'eu-central-1', 'me-central-1'],
    ['Africa', 'Harare', 'eu-central-1', 'me-central-1'],
    // West and North Africa join the backbone in Madrid: Spain's region when enabled.
    ['Africa', 'Lagos', 'eu-central-1', 'eu-south-2'],
    ['Africa', 'Casablanca', 'eu-central-1', 'eu-south-2'],
    ['Europe', 'Frankfurt', 'eu-central-1', 'eu-central-1'],
    ['Europe', 'London', 'eu-central-1', 'eu-west-2'],
    ['Europe', 'Lisbon', 'eu-central-1', 'eu-south-2'],
    ['Europe', 'Stockholm', 'eu-central-1', 'eu-north-1'],
    ['Europe', 'Istanbul', 'eu-central-1', 'eu-central-1'],
    // Iceland: Dublin is its nearest backbone metro; Frankfurt, not Virginia, among the five.
    ['Europe', 'Reykjavik', 'eu-central-1', 'eu-west-1'],
    ['Asia', 'Tokyo', 'ap-northeast-1', 'ap-northeast-1'],
    ['Asia', 'Seoul', 'ap-northeast-1', 'ap-northeast-2'],
    // Jakarta is nearer Sydney on the map, but its traffic goes north: Tokyo 87 ms, Sydney 114.
    ['Asia', 'Jakarta', 'ap-northeast-1', 'ap-southeast-1'],
    ['Asia', 'Manila', 'ap-northeast-1', 'ap-east-1'],
    // The Middle East: from Dubai, Frankfurt about 100 ms (through Doha), Tokyo 155; its own region when enabled.
    ['Middle East', 'Dubai', 'eu-central-1', 'me-central-1'],
    ['Middle East', 'Riyadh', 'eu-central-1', 'me-south-1'],
    ['Middle East', 'Manama', 'eu-central-1', 'me-south-1'],
    ['North America', 'New York', 'us-east-1', 'us-east-1'],
    ['North America', 'Chicago', 'us-east-1', 'us-east-2'],
    ['North America', 'Los Angeles', 'us-east-1', 'us-west-1'],
    ['North America', 'Seattle', 'us-east-1', 'us-west-2'],
    ['North America', 'Toronto', 'us-east-1', 'ca-central-1'],
    ['North America', 'Mexico City', 'us-east-1', 'us-west-1'],
    // Hawaii: nearer Tokyo on the map, but routed through California: Virginia 140 ms, Tokyo 178.
    ['North America', 'Honolulu', 'us-east-1', 'us-west-1'],
    ['North America', 'Anchorage', 'us-east-1', 'us-west-2'],
    ['South America', 'São Paulo', 'sa-east-1', 'sa-east-1'],
    ['South America', 'Buenos Aires', 'sa-east-1', 'sa-east-1'],
    ['South America', 'Santiago', 'sa-east-1', 'sa-east-1'],
    ['South America', 'Lima', 'sa-east-1', 'sa-east-1'],
    // Colombia reaches Virginia (73 ms) sooner than São Paulo (86).
    ['South America', 'Bogotá', 'us-east-1', 'us-east-1'],
    ['Oceania', 'Sydney', 'ap-southeast-2', 'ap-southeast-2'],
    ['Oceania', 'Perth', 'ap-southeast-2', 'ap-southeast-2'],
    ['Oceania', 'Auckland', 'ap-southeast-2', 'ap-southeast-2'],
    ['Oceania', 'Christchurch', 'ap-southeast-2', 'ap-southeast-2'],
    ['Oceania', 'Suva', 'ap-southeast-2', 'ap-southeast-2'],
  ])('%s: %s goes to %s among the default five, %s with every region', (_continent, place, withFive, withAll) => {
    // Prepare
    const five = chooser(DEFAULT_5);
    const all = chooser(ALL);
    const location = PLACES[place];

    // Act
    const fromFive = five.choose({ location });
    const fromAll = all.choose({ location });

    // Assess
    expect({ place, five: fromFive.region, all: fromAll.region }).toEqual({ place, five: withFive, all: withAll });
    expect(fromFive.reason).toBe('nearest');
    expect(fromAll.estimatedRttMs).toBeLessThanOrEqual(fromFive.estimatedRttMs ?? Infinity);
  });

  it.each<[Place, string, string, string]>([
    // Without ap-south-1 among the five: Pune to Tokyo 129 ms, to Frankfurt 151.
    ['Mumbai', 'ap-northeast-1', 'ap-south-1', 'me-central-1'],
    // Chennai to Singapore 39 ms; to Dubai 55.
    ['Bengaluru', 'ap-northeast-1', 'ap-south-1', 'ap-southeast-1'],
    ['Delhi', 'ap-northeast-1', 'ap-south-1', 'me-central-1'],
  ])('India: %s goes to %s among the five, %s with every region, %s with every region but ap-south-1', (place, withFive, withAll, withoutMumbai) => {
    // Prepare
    const location = PLACES[place];

    // Act
    const regions = [DEFAULT_5, ALL, ALL.filter((code) => code !== 'ap-south-1')].map((enabled) => chooser(enabled).choose({ location }).region);

    // Assess
    expect(regions).toEqual([withFive, withAll, withoutMumbai]);
  });

  it("places the demo fleet's real addresses on every continent, through the geolocation table", () => {
    // Prepare: by continent, with the two places whose traffic crosses to another one.
    const table = loadGeoTable();
    const five = chooser(DEFAULT_5);
    const byContinent: Record<string, string> = {
      Africa: 'eu-central-1',
      Europe: 'eu-central-1',
      Asia: 'ap-northeast-1',
      'North America': 'us-east-1',
      'South America': 'sa-east-1',
      Oceania: 'ap-southeast-2',
    };
    const exceptions: Record<string, string> = { '181.48.0': 'us-east-1', '94.200.0': 'eu-central-1' };

    // Act
    const placed = DEMO_RANGES.map((range) => {
      const location = table.lookup(`${range.prefix}.1`);
      return { place: range.place, region: location === undefined ? 'unlocated' : five.choose({ location }).region };
    });

    // Assess
    expect(placed).toEqual(DEMO_RANGES.map((range) => ({ place: range.place, region: exceptions[range.prefix] ?? byContinent[range.continent] })));
    expect(DEMO_RANGES.filter((range) => range.continent === 'Africa').length).toBeGreaterThanOrEqual(5);
  });

  it('sends southern Africa to Frankfurt where great-circle distance sent it to São Paulo', () => {
    // Prepare
    const byMap = chooser(DEFAULT_5, { ranking: 'great-circle' });
    const byNetwork = chooser(DEFAULT_5);
    const places: Place[] = ['Johannesburg', 'Cape Town', 'Windhoek', 'Gaborone', 'Maputo'];

    // Act
    const mapped = places.map((place) => byMap.choose({ location: PLACES[place] }).region);
    const networked = places.map((place) => byNetwork.choose({ location: PLACES[place] }).region);

    // Assess
    expect(mapped).toEqual(places.map(() => 'sa-east-1'));
    expect(networked).toEqual(places.map(() => 'eu-central-1'));
  });

  it('ranks af-south-1 first for southern Africa when the model is asked about it', () => {
    // Prepare: af-south-1 has no AWS IoT Core, so no policy enables it (next test); the
    // model carries it for the day AWS adds it.
    const withFive = compileRttModel(defaultRttTable(), [...DEFAULT_5, 'af-south-1']);
    const withAll = compileRttModel(defaultRttTable(), [...ALL, 'af-south-1']);

    // Act
    const firsts = (['Johannesburg', 'Cape Town', 'Windhoek', 'Gaborone', 'Maputo', 'Harare'] as const).flatMap((place) => [
      rankByEstimatedRtt(withFive, PLACES[place])[0]?.region,
      rankByEstimatedRtt(withAll, PLACES[place])[0]?.region,
    ]);

    // Assess
    expect(new Set(firsts)).toEqual(new Set(['af-south-1']));
  });

  it('cannot enable af-south-1: it is not a region with AWS IoT Core', () => {
    // Prepare
    const compile = (): unknown => chooser([...DEFAULT_5, 'af-south-1']);

    // Act / Assess
    expect(compile).toThrow(InvalidRegionPolicy);
    expect(compile).toThrow(/"af-south-1": not a commercial AWS region with AWS IoT Core/);
  });

  it('keeps distance as great-circle km and reports the estimate apart', () => {
    // Prepare
    const five = chooser(DEFAULT_5);

    // Act
    const choice = five.choose({ location: PLACES.Johannesburg });

    // Assess: Johannesburg to Frankfurt is about 8,700 km on the map, 174 ms in the table.
    expect(choice.distanceKm).toBeGreaterThan(8600);
    expect(choice.distanceKm).toBeLessThan(8800);
    expect(choice.estimatedRttMs).toBe(174);
  });

  it('still applies residency first: a rule can keep South Africa in São Paulo', () => {
    // Prepare
    const ruled = chooser(DEFAULT_5, { residency: { ZA: ['sa-east-1', 'us-east-1'] } });

    // Act
    const choice = ruled.choose({ location: PLACES.Johannesburg });

    // Assess: Virginia 225 ms beats São Paulo 326 within what the rule allows.
    expect(choice).toMatchObject({ region: 'us-east-1', fallbacks: ['sa-east-1'] });
  });
});
