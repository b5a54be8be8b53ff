import { DEFAULT_ROTATION_TEMPLATE_NAME } from '@global-iot/core/lifecycle/shadow-protocol.js';

/**
 * What a provisioned device does besides verifying its credentials (README, "After the first
 * boot"): rotate its certificate when asked, when it is old or near its expiry, and move when its
 * shadow asks; how long it waits for the cloud to confirm a switch.
 */
export interface LifecycleOptions {
  /** The deployment's `lifecycle.rotationTemplateName`. */
  readonly rotationTemplateName?: string;
  /** Rotate when the certificate is at least this many days old (its notBefore). */
  readonly rotateAfterDays?: number;
  /** Rotate when the certificate expires within this many days (its notAfter). */
  readonly rotateBeforeExpiryDays?: number;
  /** Rotate on this run, whatever the certificate's age (`iot-provision rotate`). */
  readonly rotateNow?: boolean;
  /** How long to wait, after confirming with new credentials, for the cloud's `current` in the shadow. */
  readonly switchWaitMs?: number;
  /** How often the shadow is read while waiting for `current`. */
  readonly switchPollMs?: number;
  /** `--listen`: the first wait before a move or rotation that did not go through is tried again (doubles, full jitter). */
  readonly retryBackoffMs?: number;
  /** `--listen`: the largest such wait. */
  readonly retryMaxBackoffMs?: number;
}

export const DEFAULT_SWITCH_WAIT_MS = 20_000;
export const DEFAULT_SWITCH_POLL_MS = 500;
export const DEFAULT_RETRY_BACKOFF_MS = 30_000;
export const DEFAULT_RETRY_MAX_BACKOFF_MS = 600_000;

export interface LifecycleSettings {
  readonly rotationTemplateName: string;
  readonly rotateAfterDays?: number;
  readonly rotateBeforeExpiryDays?: number;
  readonly rotateNow: boolean;
  readonly switchWaitMs: number;
  readonly switchPollMs: number;
  readonly retryBackoffMs: number;
  readonly retryMaxBackoffMs: number;
}

export function lifecycleSettings(options: LifecycleOptions = {}): LifecycleSettings {
  return {
    rotationTemplateName: options.rotationTemplateName ?? DEFAULT_ROTATION_TEMPLATE_NAME,
    ...(options.rotateAfterDays !== undefined ? { rotateAfterDays: options.rotateAfterDays } : {}),
    ...(options.rotateBeforeExpiryDays !== undefined ? { rotateBeforeExpiryDays: options.rotateBeforeExpiryDays } : {}),
    rotateNow: options.rotateNow ?? false,
    switchWaitMs: options.switchWaitMs ?? DEFAULT_SWITCH_WAIT_MS,
    switchPollMs: options.switchPollMs ?? DEFAULT_SWITCH_POLL_MS,
    retryBackoffMs: options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS,
    retryMaxBackoffMs: options.retryMaxBackoffMs ?? DEFAULT_RETRY_MAX_BACKOFF_MS,
  };
}
