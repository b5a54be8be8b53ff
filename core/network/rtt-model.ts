import { ConfigError } from '../errors.js';
import { EARTH_MEAN_RADIUS_KM, type LatLon } from '../regions.js';
import { parseRttTable, type RttTable } from './rtt-table.js';
import shippedTable from './rtt-table.json' with { type: 'json' };

/**
 * The network-distance model: an estimated round trip from a point on Earth to each AWS region,
 * for ranking regions when the device has measured nothing. Great-circle distance ignores how
 * cables run (southern Africa's traffic goes to Europe, not to São Paulo across the Atlantic);
 * published backbone round trips do not.
 *
 *     estimate(point, region) = min over anchors A near the point of
 *                               access(point, A) + backbone(A, region)
 *
 * - backbone(A, region): the table's published round trip from anchor metro A to the metro that
 *   stands for the region; `sameMetroMs` where A is that metro (the table leaves it blank).
 * - access(point, A) = great-circle km from the point to A × `accessMsPer100Km` / 100: the
 *   device's own path to where its traffic joins a backbone, fitted on the table's short pairs.
 * - "near": A is at most `anchorSlackKm` farther than the point's nearest anchor. A far anchor
 *   with a cheap straight line to it would stand for a cable that does not exist.
 *
 * The result is in ms but is a ranking device first: it leaves out the device's last mile (the
 * same for every region) and the difference between Azure's backbone and the public internet.
 * Method, sources and limits: core/network/README.md.
 */

/** The region choice asked the model about a region its table does not cover. */
export class RegionNotInRttTable extends ConfigError {
  override name = 'RegionNotInRttTable';
}

export interface RttModel {
  /** The regions, in the order `estimate` fills them. */
  readonly regions: readonly string[];
  /** Fills `out[i]` with the estimated round trip in ms from the point (degrees) to `regions[i]`. */
  estimate(point: LatLon, out: Float64Array): void;
}

const DEG_TO_RAD = Math.PI / 180;
const EARTH_DIAMETER_KM = 2 * EARTH_MEAN_RADIUS_KM;

/** Lays the table out for the given regions so that an estimate is a few array scans. */
export function compileRttModel(table: RttTable, regions: readonly string[]): RttModel {
  const columnOf = new Map(table.regions.map((region, column) => [region.code, column]));
  const columns = regions.map((code) => {
    const column = columnOf.get(code);
    if (column === undefined) throw new RegionNotInRttTable(`the network-distance table has no figures for ${code}`);
    return column;
  });
  const anchorCount = table.anchors.length;
  const regionCount = regions.length;
  const latRad = new Float64Array(anchorCount);
  const lonRad = new Float64Array(anchorCount);
  const cosLat = new Float64Array(anchorCount);
  // Row-major: one anchor's figures for every asked region side by side.
  const backbone = new Float64Array(anchorCount * regionCount);
  table.anchors.forEach((anchor, a) => {
    latRad[a] = anchor.lat * DEG_TO_RAD;
    lonRad[a] = anchor.lon * DEG_TO_RAD;
    cosLat[a] = Math.cos(anchor.lat * DEG_TO_RAD);
    columns.forEach((column, r) => {
      backbone[a * regionCount + r] = anchor.rttMs[column] ?? table.model.sameMetroMs;
    });
  });
  const msPerKm = table.model.accessMsPer100Km / 100;
  const slackKm = table.model.anchorSlackKm;
  const anchorH = new Float64Array(anchorCount);

  function estimate(point: LatLon, out: Float64Array): void {
    const pLat = point.lat * DEG_TO_RAD;
    const pLon = point.lon * DEG_TO_RAD;
    const pCos = Math.cos(pLat);
    // Haversine terms grow with distance: the nearest anchor and the band are found on them,
    // and only the few anchors in the band pay for asin and sqrt.
    let nearestH = Infinity;
    for (let a = 0; a < anchorCount; a++) {
      const sinHalfDLat = Math.sin(((latRad[a] ?? 0) - pLat) / 2);
      const sinHalfDLon = Math.sin(((lonRad[a] ?? 0) - pLon) / 2);
      const h = Math.min(1, sinHalfDLat * sinHalfDLat + pCos * (cosLat[a] ?? 0) * sinHalfDLon * sinHalfDLon);
      anchorH[a] = h;
      if (h < nearestH) nearestH = h;
    }
    const reachKm = EARTH_DIAMETER_KM * Math.asin(Math.sqrt(nearestH)) + slackKm;
    const reachHalfAngle = Math.min(Math.PI / 2, reachKm / EARTH_DIAMETER_KM);
    const reachH = Math.sin(reachHalfAngle) ** 2;
    out.fill(Infinity, 0, regionCount);
    for (let a = 0; a < anchorCount; a++) {
      const h = anchorH[a] ?? 1;
      if (h > reachH) continue;
      const access = EARTH_DIAMETER_KM * Math.asin(Math.sqrt(h)) * msPerKm;
      const row = a * regionCount;
      for (let r = 0; r < regionCount; r++) {
        const ms = access + (backbone[row + r] ?? Infinity);
        if (ms < (out[r] ?? Infinity)) out[r] = ms;
      }
    }
  }

  return { regions: [...regions], estimate };
}

let shipped: RttTable | undefined;

/** The table that ships with the product, validated on first use (start-up) and kept. */
export function defaultRttTable(): RttTable {
  shipped ??= parseRttTable(shippedTable);
  return shipped;
}

/** Every region the model knows, ranked from the point by estimated round trip (for tests and tools). */
export function rankByEstimatedRtt(model: RttModel, point: LatLon): { region: string; rttMs: number }[] {
  const out = new Float64Array(model.regions.length);
  model.estimate(point, out);
  return model.regions
    .map((region, i) => ({ region, rttMs: out[i] ?? Infinity, i }))
    .sort((a, b) => a.rttMs - b.rttMs || a.i - b.i)
    .map(({ region, rttMs }) => ({ region, rttMs }));
}
