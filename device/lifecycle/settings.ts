import { Option } from 'commander';
import * as z from 'zod';
import { DEFAULT_ROTATION_TEMPLATE_NAME } from '@global-iot/core/lifecycle/shadow-protocol.js';
import { DEFAULT_RETRY_BACKOFF_MS, DEFAULT_RETRY_MAX_BACKOFF_MS, DEFAULT_SWITCH_WAIT_MS, type LifecycleOptions } from './options.js';

/**
 * The lifecycle's settings (README, "After the first boot"), each declared once: its name in a
 * config file, its flag and help for commander, and its schema. cli.ts and config.ts take all
 * three from here, so the help, the parsing and the validation cannot drift apart.
 */

interface LifecycleSetting {
  /** Commander's flag, with its value placeholder. */
  readonly flag: string;
  readonly help: string;
  readonly schema: z.ZodType;
  /** The value is a whole number (parsed by the CLI; anything else becomes NaN, which the schema reports). */
  readonly numeric: boolean;
}

const DAYS_MAX = 36_500;

export const LIFECYCLE_SETTINGS = {
  rotationTemplate: {
    flag: '--rotation-template <name>',
    help: `the fleet-provisioning template a rotation uses: the deployment's lifecycle.rotationTemplateName (default ${DEFAULT_ROTATION_TEMPLATE_NAME})`,
    schema: z.string().regex(/^[0-9A-Za-z_-]{1,36}$/, 'template names are 1-36 characters of [0-9A-Za-z_-]').default(DEFAULT_ROTATION_TEMPLATE_NAME),
    numeric: false,
  },
  rotateAfterDays: {
    flag: '--rotate-after-days <n>',
    help: 'on a run of a provisioned device, rotate the certificate once it is this many days old (1-36500; off by default)',
    schema: z.number().int().min(1).max(DAYS_MAX).optional(),
    numeric: true,
  },
  rotateBeforeExpiryDays: {
    flag: '--rotate-before-expiry-days <n>',
    help: 'on a run of a provisioned device, rotate the certificate when it expires within this many days (1-36500; off by default)',
    schema: z.number().int().min(1).max(DAYS_MAX).optional(),
    numeric: true,
  },
  switchWaitMs: {
    flag: '--switch-wait <ms>',
    help: `after confirming with new credentials, how long to wait for the cloud to confirm the switch; later runs go on waiting (default ${DEFAULT_SWITCH_WAIT_MS})`,
    schema: z.number().int().min(0).max(300_000).default(DEFAULT_SWITCH_WAIT_MS),
    numeric: true,
  },
  listenSeconds: {
    flag: '--listen <s>',
    help: 'after the run, stay connected this many seconds and act on a move or rotation request as it arrives (1-31536000)',
    schema: z.number().int().min(1).max(31_536_000).optional(),
    numeric: true,
  },
  listenRetryMs: {
    flag: '--listen-retry <ms>',
    help: `while listening, the first wait before a move or rotation that did not go through is tried again; doubles each time up to ${DEFAULT_RETRY_MAX_BACKOFF_MS} (default ${DEFAULT_RETRY_BACKOFF_MS})`,
    schema: z.number().int().min(100).max(DEFAULT_RETRY_MAX_BACKOFF_MS).default(DEFAULT_RETRY_BACKOFF_MS),
    numeric: true,
  },
} as const satisfies Record<string, LifecycleSetting>;

export type LifecycleSettingName = keyof typeof LIFECYCLE_SETTINGS;

/** Setting name -> its flag without the placeholder, for messages. */
export const LIFECYCLE_FLAGS = Object.fromEntries(Object.entries(LIFECYCLE_SETTINGS).map(([name, s]) => [name, s.flag.split(' ')[0]])) as Record<
  LifecycleSettingName,
  string
>;

export const lifecycleSettingsShape = {
  rotationTemplate: LIFECYCLE_SETTINGS.rotationTemplate.schema,
  rotateAfterDays: LIFECYCLE_SETTINGS.rotateAfterDays.schema,
  rotateBeforeExpiryDays: LIFECYCLE_SETTINGS.rotateBeforeExpiryDays.schema,
  switchWaitMs: LIFECYCLE_SETTINGS.switchWaitMs.schema,
  listenSeconds: LIFECYCLE_SETTINGS.listenSeconds.schema,
  listenRetryMs: LIFECYCLE_SETTINGS.listenRetryMs.schema,
};

const toNumber = (value: string): number => (/^\d+$/.test(value) ? Number(value) : Number.NaN);

/** A fresh commander option for each setting (commander keeps parsed values on its options). */
export function lifecycleOptions(): Option[] {
  return Object.values(LIFECYCLE_SETTINGS).map((s: LifecycleSetting) => {
    const option = new Option(s.flag, s.help);
    return s.numeric ? option.argParser(toNumber) : option;
  });
}

/** What commander parsed, by setting name (commander names `--switch-wait` switchWait, the setting is switchWaitMs). */
export function lifecycleFlagValues(parsed: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(LIFECYCLE_SETTINGS)) {
    const value = parsed[new Option(s.flag).attributeName()];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** The flow's lifecycle options from validated settings. */
export function lifecycleOptionsOf(settings: z.output<z.ZodObject<typeof lifecycleSettingsShape>>, rotateNow: boolean): LifecycleOptions {
  return {
    rotationTemplateName: settings.rotationTemplate,
    ...(settings.rotateAfterDays !== undefined ? { rotateAfterDays: settings.rotateAfterDays } : {}),
    ...(settings.rotateBeforeExpiryDays !== undefined ? { rotateBeforeExpiryDays: settings.rotateBeforeExpiryDays } : {}),
    rotateNow,
    switchWaitMs: settings.switchWaitMs,
    retryBackoffMs: settings.listenRetryMs,
  };
}
