import * as z from 'zod';
import { ConfigError } from '../errors.js';

/**
 * The network-distance table: published round-trip times from anchor metros (places with a
 * measured backbone) to the metro of each AWS region. The data file is `rtt-table.json` beside
 * this module, built by `tools/network/build-rtt-table.ts` from the source named in it; sources,
 * licence, method and refresh are in `core/network/README.md`. It ships inside the bootstrap
 * function, so it is small (tens of anchors times tens of regions) and checked when loaded: a
 * hand edit that breaks it stops the bootstrap at start-up with the problem named, rather than
 * sending devices to odd places.
 */

export const RTT_TABLE_FORMAT = 1;

/** Round trips the table may hold, in ms: a figure outside is a typo, not a measurement. */
export const MIN_TABLE_RTT_MS = 1;
export const MAX_TABLE_RTT_MS = 1000;

const regionCode = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region code');
const rttMs = z.number().int().min(MIN_TABLE_RTT_MS).max(MAX_TABLE_RTT_MS);

export const rttTableSchema = z
  .strictObject({
    format: z.literal(RTT_TABLE_FORMAT),
    source: z.strictObject({
      title: z.string().min(1),
      url: z.string().url(),
      repository: z.string().min(1),
      figures: z.string().min(1),
      licence: z.string().min(1),
      licenceUrl: z.string().url(),
      attribution: z.string().min(1),
      coordinates: z.string().min(1),
    }),
    model: z.strictObject({
      /** Round trip per 100 km of great-circle distance from a device to an anchor metro. */
      accessMsPer100Km: z.number().positive().max(10),
      /** Round trip between a device's anchor and a region in the same metro (the table leaves it blank). */
      sameMetroMs: z.number().positive().max(50),
      /** Anchors this much farther than the device's nearest one may also carry its traffic. */
      anchorSlackKm: z.number().min(0).max(5000),
    }),
    /** AWS regions the table covers, each with the anchor that stands for its metro. */
    regions: z
      .array(z.strictObject({ code: regionCode, standIn: z.string().min(1), standInKm: z.number().int().min(0).max(1000) }))
      .min(1),
    anchors: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          city: z.string().min(1),
          country: z.string().regex(/^[A-Z]{2}$/),
          lat: z.number().min(-90).max(90),
          lon: z.number().min(-180).max(180),
          /** Round trip to each of `regions`, in the same order; null only for a region this anchor stands in for. */
          rttMs: z.array(rttMs.nullable()),
        }),
      )
      .min(1),
  })
  .superRefine((table, ctx) => {
    const problem = (path: (string | number)[], message: string): void => {
      ctx.addIssue({ code: 'custom', path, message });
    };
    const anchorNames = new Set<string>();
    table.anchors.forEach((anchor, a) => {
      if (anchorNames.has(anchor.name)) problem(['anchors', a, 'name'], `anchor "${anchor.name}" is listed twice`);
      anchorNames.add(anchor.name);
    });
    const codes = new Set<string>();
    table.regions.forEach((region, r) => {
      if (codes.has(region.code)) problem(['regions', r, 'code'], `region "${region.code}" is listed twice`);
      codes.add(region.code);
      if (!anchorNames.has(region.standIn)) problem(['regions', r, 'standIn'], `no anchor is named "${region.standIn}"`);
    });
    table.anchors.forEach((anchor, a) => {
      if (anchor.rttMs.length !== table.regions.length) {
        problem(['anchors', a, 'rttMs'], `has ${anchor.rttMs.length} figures for ${table.regions.length} regions`);
        return;
      }
      anchor.rttMs.forEach((ms, r) => {
        const standsIn = table.regions[r]?.standIn === anchor.name;
        if (ms === null && !standsIn) problem(['anchors', a, 'rttMs', r], `no figure from ${anchor.name} to ${table.regions[r]?.code ?? '?'}`);
        if (ms !== null && standsIn) problem(['anchors', a, 'rttMs', r], `${anchor.name} stands in for ${table.regions[r]?.code ?? '?'}: leave it null`);
      });
    });
  });

export type RttTable = z.output<typeof rttTableSchema>;

/** The network-distance table does not match its schema; raised when it is loaded (at start-up). */
export class InvalidRttTable extends ConfigError {
  override name = 'InvalidRttTable';
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: ErrorOptions) {
    super(`invalid network-distance table: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`, options);
    this.problems = problems;
  }
}

/** Validates a table, throwing `InvalidRttTable` with every problem named by its path. */
export function parseRttTable(raw: unknown): RttTable {
  const parsed = rttTableSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(table)'}: ${issue.message}`);
    throw new InvalidRttTable(problems, { cause: parsed.error });
  }
  return parsed.data;
}
