import * as z from 'zod';

/** CloudWatch accepts these periods (seconds as minutes) for standard-resolution metrics. */
const PERIOD_MINUTES = [1, 5, 10, 15, 30, 60] as const;

/** AWS IoT waits 5 s for the pre-provisioning hook; the duration alarm must fire before that. */
export const HOOK_LIMIT_MS = 5_000;

/**
 * Thresholds of the CloudWatch alarms (infra/README.md, "Alarms and dashboard"). Each alarm fires
 * when its figure reaches the threshold over `evaluationPeriods` periods of `periodMinutes`.
 */
export const alarmSettingsSchema = z
  .object({
    /** The period every alarm and dashboard graph sums or ranks over. */
    periodMinutes: z
      .number()
      .int()
      .refine((m) => (PERIOD_MINUTES as readonly number[]).includes(m), `must be one of ${PERIOD_MINUTES.join(', ')}`)
      .default(5),
    /** Consecutive periods a figure must stay at or above its threshold before the alarm fires. */
    evaluationPeriods: z.number().int().min(1).max(24).default(1),
    /** Fewer bootstrap requests than this in a period make no rate: 1 error in 2 requests is not 50 %. */
    minRequests: z.number().int().min(1).max(1_000_000).default(20),
    /** Share of bootstrap requests answered 5xx, in percent. */
    bootstrap5xxPercent: z.number().gt(0).max(100).default(1),
    /** Share of bootstrap requests answered 429 (stage throttle or the admission limiter), in percent. */
    bootstrap429Percent: z.number().gt(0).max(100).default(5),
    /** p99 of the bootstrap API's latency (API Gateway's `Latency`), in ms. */
    bootstrapP99LatencyMs: z.number().int().min(100).max(30_000).default(3_000),
    /** Requests API Gateway itself refused with 429 (stage throttling), per period. */
    apiThrottledRequests: z.number().int().min(1).max(1_000_000).default(10),
    /** p99 of the hook's duration, in ms; below AWS IoT's 5 s, after which RegisterThing is denied. */
    hookP99DurationMs: z.number().int().min(100).max(HOOK_LIMIT_MS - 1).default(4_000),
    /** Hook denials per period in one region (every reason). */
    hookDenials: z.number().int().min(1).max(1_000_000).default(100),
    /** Hook errors per period in one region: crashes, and denials for an internal error, an unavailable registry or the deadline. */
    hookErrors: z.number().int().min(1).max(1_000_000).default(1),
    /** Confirmation invocations that failed (the function threw) per period in one region. */
    confirmationFailures: z.number().int().min(1).max(1_000_000).default(1),
    /** Events waiting in a region's confirmation failure queue. */
    failureQueueDepth: z.number().int().min(1).max(1_000_000).default(1),
  })
  .strict();
export type AlarmSettings = z.infer<typeof alarmSettingsSchema>;
