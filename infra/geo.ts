/**
 * The geolocation table ships inside the bootstrap function's bundle: one file read at cold start,
 * no network call, no layer to version separately.
 */
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { ConfigError } from '@global-iot/core/errors.js';
import { defaultGeoTablePath, GEO_TABLE_FILE_NAME } from '@global-iot/core/geo/table.js';
import { type BundledFile, LAMBDA_TASK_ROOT } from './constructs/provisioning-function.js';

/** The table is missing or too large to ship. */
export class GeoTableAssetError extends ConfigError {
  override name = 'GeoTableAssetError';
}

/**
 * Lambda's limit on a function's unzipped code (with layers) is 250 MB; the bundle itself takes a
 * few MB, and the rest is headroom for the code growing.
 */
export const MAX_GEO_TABLE_BYTES = 200 * 1024 * 1024;

/** Where the table sits in the bundle, relative to its root. */
export const GEO_TABLE_BUNDLE_PATH = posix.join('geo', GEO_TABLE_FILE_NAME);
/** GEO_DB_PATH as the function sees it. */
export const GEO_TABLE_RUNTIME_PATH = posix.join(LAMBDA_TASK_ROOT, GEO_TABLE_BUNDLE_PATH);

export interface GeoTableAsset {
  readonly file: BundledFile;
  readonly bytes: number;
}

/**
 * Finds the table that `npm run geo:build` wrote. Throws GeoTableAssetError with the fix when it is
 * missing or would push the function past Lambda's size limit.
 */
export function locateGeoTable(path: string = defaultGeoTablePath(), stat: (path: string) => { size: number; isFile(): boolean } = statSync): GeoTableAsset {
  let info: { size: number; isFile(): boolean };
  try {
    info = stat(path);
  } catch (cause) {
    throw new GeoTableAssetError(
      `the geolocation table ${path} is missing: run \`npm run geo:build\` before \`cdk synth\` or \`cdk deploy\` (tests may pass -c skipGeoDb=true)`,
      { cause },
    );
  }
  if (!info.isFile()) throw new GeoTableAssetError(`the geolocation table ${path} is not a file; rebuild it with \`npm run geo:build\``);
  if (info.size > MAX_GEO_TABLE_BYTES) {
    throw new GeoTableAssetError(
      `the geolocation table ${path} has ${info.size} bytes; at most ${MAX_GEO_TABLE_BYTES} fit in a Lambda function (250 MB unzipped)`,
    );
  }
  return { file: { source: path, destination: GEO_TABLE_BUNDLE_PATH }, bytes: info.size };
}
