import * as z from 'zod';
import { DEFAULT_ROTATION_TEMPLATE_NAME } from '@global-iot/core/lifecycle/shadow-protocol.js';
import { type Setting, toNumber } from '../setting.js';
import { DEFAULT_RETRY_BACKOFF_MS, DEFAULT_RETRY_MAX_BACKOFF_MS, DEFAULT_SWITCH_WAIT_MS, type LifecycleOptions } from './options.js';

/**
 * The lifecycle's settings (README, "After the first boot"), declared once like every other
 * setting (setting.ts); config.ts adds them to the device's settings.
 */

const DAYS_MAX = 36_500;

export const LIFECYCLE_SETTINGS = {
  rotationTemplate: {
    flag: '--rotation-template <name>',
    help: `the fleet-provisioning template a rotation uses: the deployment's lifecycle.rotationTemplateName (default ${DEFAULT_ROTATION_TEMPLATE_NAME})`,
    schema: z.string().regex(/^[0-9A-Za-z_-]{1,36}$/, 'template names are 1-36 characters of [0-9A-Za-z_-]').default(DEFAULT_ROTATION_TEMPLATE_NAME),
  },
  rotateAfterDays: {
    flag: '--rotate-after-days <n>',
    help: 'on a run of a provisioned device, rotate the certificate once it is this many days old (1-36500; off by default)',
    schema: z.number().int().min(1).max(DAYS_MAX).optional(),
    parse: toNumber,
  },
  rotateBeforeExpiryDays: {
    flag: '--rotate-before-expiry-days <n>',
    help: 'on a run of a provisioned device, rotate the certificate when it expires within this many days (1-36500; off by default)',
    schema: z.number().int().min(1).max(DAYS_MAX).optional(),
    parse: toNumber,
  },
  switchWaitMs: {
    flag: '--switch-wait <ms>',
    help: `after confirming with new credentials, how long to wait for the cloud to confirm the switch; later runs go on waiting (default ${DEFAULT_SWITCH_WAIT_MS})`,
    schema: z.number().int().min(0).max(300_000).default(DEFAULT_SWITCH_WAIT_MS),
    parse: toNumber,
  },
  listenSeconds: {
    flag: '--listen <s>',
    help: 'after the run, stay connected this many seconds and act on a move or rotation request as it arrives (1-31536000)',
    schema: z.number().int().min(1).max(31_536_000).optional(),
    parse: toNumber,
  },
  listenRetryMs: {
    flag: '--listen-retry <ms>',
    help: `while listening, the first wait before a move or rotation that did not go through is tried again; doubles each time up to ${DEFAULT_RETRY_MAX_BACKOFF_MS} (default ${DEFAULT_RETRY_BACKOFF_MS})`,
    schema: z.number().int().min(100).max(DEFAULT_RETRY_MAX_BACKOFF_MS).default(DEFAULT_RETRY_BACKOFF_MS),
    parse: toNumber,
  },
} as const satisfies Record<string, Setting>;

export type LifecycleSettingName = keyof typeof LIFECYCLE_SETTINGS;

type LifecycleValues = z.output<z.ZodObject<{ [K in LifecycleSettingName]: (typeof LIFECYCLE_SETTINGS)[K]['schema'] }>>;

/** The flow's lifecycle options from validated settings. */
export function lifecycleOptionsOf(settings: LifecycleValues, rotateNow: boolean): LifecycleOptions {
  return {
    rotationTemplateName: settings.rotationTemplate,
    ...(settings.rotateAfterDays !== undefined ? { rotateAfterDays: settings.rotateAfterDays } : {}),
    ...(settings.rotateBeforeExpiryDays !== undefined ? { rotateBeforeExpiryDays: settings.rotateBeforeExpiryDays } : {}),
    rotateNow,
    switchWaitMs: settings.switchWaitMs,
    retryBackoffMs: settings.listenRetryMs,
  };
}
