import type { AdmissionSettings } from '../config.js';

/**
 * How long a device refused for rate should wait, in whole seconds (HTTP's Retry-After).
 *
 * The counter says how far over the ceiling this attempt is: the `over`-th refusal of its
 * second. If the burst were the only traffic and every refused device came back when told, each
 * later second would take `ceiling` of them, so the `over`-th finds room after
 * `base = ceil(over / ceiling)` seconds: the burst leaves spread over as many seconds as it
 * needs, instead of all of it returning at once to be refused again. Other bursts, clocks that
 * differ and devices that come back late blur that schedule, so a random extra of up to
 * `ceil(base * retryJitterRatio)` seconds is added (uniform, whole seconds), and the answer is
 * capped at `maxRetryAfterSeconds`.
 */
export function retryAfterSeconds(
  over: number,
  ceiling: number,
  settings: Pick<AdmissionSettings, 'maxRetryAfterSeconds' | 'retryJitterRatio'>,
  random: () => number,
): number {
  const base = Math.max(1, Math.ceil(over / Math.max(1, ceiling)));
  const spread = 1 + Math.ceil(base * settings.retryJitterRatio);
  const jitter = Math.min(spread - 1, Math.floor(random() * spread));
  return Math.min(settings.maxRetryAfterSeconds, base + jitter);
}
