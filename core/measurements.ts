import * as z from 'zod';
import { InvalidInput } from './errors.js';

/**
 * Handshake times a device measured to the regions the bootstrap offered it, as it sends them
 * (signed, see `canonicalRequestBytesV2` in signing.ts) in its second bootstrap request:
 *
 *     "measurements": [{ "region": "eu-central-1", "ms": 23.4 }, { "region": "us-east-1", "ms": 95 }]
 *
 * Checked here, at the boundary, before anything uses them: each region once and only regions
 * that were offered, each time from 1 ms to 10 s in steps of 0.1 ms, at most one figure per
 * region the bootstrap can offer. Anything else is `InvalidMeasurements` (a 400), never a
 * silent drop: a device that sends figures the service ignored would not know why.
 */

/** Fewer than 1 ms is a loopback, not a path to AWS; a device rounds up to it. */
export const MIN_MEASUREMENT_MS = 1;
/** A handshake slower than 10 s is a failure, not a figure. */
export const MAX_MEASUREMENT_MS = 10_000;
/** Figures carry at most one decimal: finer is noise, and the signed text stays short. */
export const MEASUREMENT_STEP_MS = 0.1;
/**
 * The chosen region and every fallback the policy may give (1 + MAX_FALLBACK_COUNT; a test keeps
 * them equal). Not imported from region-choice: the device client signs measurements, and must
 * not carry the chooser and its table.
 */
export const MAX_MEASUREMENTS = 11;

export interface Measurement {
  readonly region: string;
  /** Handshake time in ms, a multiple of 0.1 from 1 to 10,000. */
  readonly ms: number;
}

/** The measurements in a request are malformed, or name a region that was not offered. */
export class InvalidMeasurements extends InvalidInput {
  override name = 'InvalidMeasurements';
}

export const measurementsSchema = z
  .array(
    z.strictObject({
      region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region code'),
      ms: z.number(),
    }),
  )
  .min(1, 'send no measurements field rather than an empty list')
  .max(MAX_MEASUREMENTS, `at most ${MAX_MEASUREMENTS} measurements`);

/** Tenths of a millisecond, or undefined when `ms` is not a multiple of 0.1. */
export function measurementTenths(ms: number): number | undefined {
  const tenths = Math.round(ms * 10);
  // JSON's 23.4 is 233.99999999999997 tenths in binary; anything farther off had more decimals.
  return Number.isFinite(ms) && Math.abs(ms * 10 - tenths) < 1e-6 ? tenths : undefined;
}

function checkValue(m: { region: string; ms: number }): string | undefined {
  if (measurementTenths(m.ms) === undefined) return `${m.region}: ${String(m.ms)} ms has more than one decimal`;
  if (m.ms < MIN_MEASUREMENT_MS || m.ms > MAX_MEASUREMENT_MS) {
    return `${m.region}: ${String(m.ms)} ms is outside ${MIN_MEASUREMENT_MS} to ${MAX_MEASUREMENT_MS} ms`;
  }
  return undefined;
}

/**
 * Validates the measurements a request carries against the regions offered to the device.
 * Throws `InvalidMeasurements` naming every problem.
 */
export function parseMeasurements(raw: unknown, offered: readonly string[]): Measurement[] {
  const parsed = measurementsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `measurements${issue.path.map((p) => `[${String(p)}]`).join('')}: ${issue.message}`);
    throw new InvalidMeasurements(problems.join('; '), { cause: parsed.error });
  }
  const allowed = new Set(offered);
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const m of parsed.data) {
    if (seen.has(m.region)) problems.push(`${m.region}: measured twice`);
    else if (!allowed.has(m.region)) problems.push(`${m.region}: not one of the offered regions (${offered.join(', ')})`);
    seen.add(m.region);
    const bad = checkValue(m);
    if (bad !== undefined) problems.push(bad);
  }
  if (problems.length > 0) throw new InvalidMeasurements(`measurements: ${problems.join('; ')}`);
  return parsed.data.map(({ region, ms }) => ({ region, ms }));
}
