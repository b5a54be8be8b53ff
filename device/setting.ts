import { Option } from 'commander';
import type * as z from 'zod';
import { DeviceConfigError } from './errors.js';

/**
 * One setting of `iot-provision`, declared once: its flag (with the value's placeholder), the
 * help, and the schema that validates its value, whether it comes from the flag or from the
 * config file (by the setting's camelCase name). config.ts builds the settings schema from these,
 * cli.ts the commander options, so the help, the parsing and the validation cannot drift apart
 * (as ops/lib/flags.ts does for iot-ops).
 */
export interface Setting {
  /** `--name <value>`, or `--no-name` for a setting that is on unless the flag is given. */
  readonly flag: string;
  readonly help: string;
  readonly schema: z.ZodType;
  /** How commander turns the flag's text into the value the schema checks (default: the text). */
  readonly parse?: (value: string, previous: unknown) => unknown;
  readonly choices?: readonly string[];
}

/** Anything but plain digits becomes NaN, which the settings schema then reports, naming the flag. */
export const toNumber = (value: string): number => (/^\d+$/.test(value) ? Number(value) : Number.NaN);

/** `--param NAME=VALUE`, repeatable: the values so far with this one. */
export function collectParam(value: string, previous: unknown): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new DeviceConfigError(`--param: expected NAME=VALUE, got ${JSON.stringify(value)}`);
  const so = typeof previous === 'object' && previous !== null ? (previous as Record<string, string>) : {};
  return { ...so, [value.slice(0, at)]: value.slice(at + 1) };
}

/** The flag without its placeholder, for messages. */
export const flagName = (setting: Pick<Setting, 'flag'>): string => setting.flag.split(' ')[0] ?? setting.flag;

/** A fresh commander option (commander keeps parsed values on its options). */
export function optionOf(setting: Setting): Option {
  const option = new Option(setting.flag, setting.help);
  if (setting.choices) option.choices(setting.choices);
  if (setting.parse) option.argParser(setting.parse);
  return option;
}
