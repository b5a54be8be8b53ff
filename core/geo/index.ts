/**
 * Offline IP geolocation: where an address is, from a table built out of DB-IP Lite City
 * (CC BY 4.0, attribution: "IP Geolocation by DB-IP", https://db-ip.com).
 *
 * Build the table with `npm run geo:build` (or `ensureGeoTable()` from './build.js'); the
 * build step lives in its own module so run-time bundles do not pull in the MaxMind reader.
 */
export {
  classifyAddress,
  classifyParsed,
  embeddedIpv4,
  formatIpv4,
  parseIp,
  type AddressClass,
  type ParsedIp,
  type ParsedIpv4,
  type ParsedIpv6,
  type ValidAddressClass,
} from './address.js';
export { openGeoTable } from './file-table.js';
export { GeoTableFormatError, GEO_TABLE_FORMAT_VERSION, type DecodeOptions, type GeoTableHeader } from './format.js';
export {
  defaultGeoTableDir,
  defaultGeoTablePath,
  GEO_DB_PATH_ENV,
  GEO_TABLE_FILE_NAME,
  GeoTable,
  GeoTableLoadError,
  loadGeoTable,
  resolveGeoTablePath,
  type GeoPoint,
  type LoadOptions,
} from './table.js';
