import { describeError } from '@global-iot/core/errors.js';
import { withAbortTimeout } from '@global-iot/core/timeout.js';
import { UsageError } from './errors.js';

/** One region's answer, or why there is none. */
export type RegionOutcome<T> = { region: string; ok: true; value: T } | { region: string; ok: false; error: string };

export class RegionTimeout extends Error {
  override name = 'RegionTimeout';
}

/**
 * Runs one operation in several regions at once, each with its own deadline (its calls aborted
 * when it passes), and keeps every region's outcome: one unreachable region must not hide the
 * answers of the others.
 */
export async function inEachRegion<T>(
  regions: readonly string[],
  timeoutMs: number,
  fn: (region: string, signal: AbortSignal) => Promise<T>,
): Promise<RegionOutcome<T>[]> {
  return Promise.all(
    regions.map(async (region): Promise<RegionOutcome<T>> => {
      try {
        const value = await withAbortTimeout((signal) => fn(region, signal), timeoutMs, () => new RegionTimeout(`no answer within ${timeoutMs} ms`));
        return { region, ok: true, value };
      } catch (error) {
        return { region, ok: false, error: describeError(error) };
      }
    }),
  );
}

/** The regions an operator chose (`--regions a,b`), each of which must be enabled; all by default. */
export function chooseRegions(enabled: readonly string[], chosen: readonly string[] | undefined): string[] {
  if (chosen === undefined || chosen.length === 0) return [...enabled];
  const unknown = chosen.filter((r) => !enabled.includes(r));
  if (unknown.length > 0) {
    throw new UsageError(`not an enabled region: ${unknown.join(', ')} (enabled: ${enabled.join(', ')})`);
  }
  return [...new Set(chosen)];
}

export { errorName } from '@global-iot/core/lifecycle/certificates.js';
