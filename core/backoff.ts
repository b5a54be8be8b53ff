/**
 * Exponential back-off with full jitter: the wait before the retry that follows attempt
 * `attempt` (1 for the first) is uniform in [0, ceiling), the ceiling doubling from `baseMs` up
 * to `maxMs`. Full jitter spreads clients that failed together (a throttled burst) over the
 * whole interval, so they do not come back together.
 */

export interface BackoffPolicy {
  /** The first ceiling, in milliseconds. */
  readonly baseMs: number;
  /** The largest ceiling, in milliseconds. */
  readonly maxMs: number;
}

/** `random` is uniform in [0, 1) (Math.random, or a test's own). */
export function fullJitterDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}
