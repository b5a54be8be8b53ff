import { ConfigError } from './errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Reads a required string setting; a missing one is an error that names the variable. */
export function getStringFromEnv(options: {
  key: string;
  defaultValue?: string;
  env?: Env;
}): string {
  const value = (options.env ?? process.env)[options.key];
  if (value !== undefined && value !== '') return value;
  if (options.defaultValue !== undefined) return options.defaultValue;
  throw new ConfigError(`environment variable ${options.key} is required`);
}

/** Reads an optional string setting. */
export function getOptionalStringFromEnv(key: string, env: Env = process.env): string | undefined {
  const value = env[key];
  return value === undefined || value === '' ? undefined : value;
}

/** Reads an integer setting within bounds, with a default. */
export function getIntFromEnv(options: {
  key: string;
  defaultValue: number;
  min: number;
  max: number;
  env?: Env;
}): number {
  const raw = (options.env ?? process.env)[options.key];
  if (raw === undefined || raw === '') return options.defaultValue;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(`${options.key} must be an integer, got '${raw}'`);
  const value = Number(raw);
  if (value < options.min || value > options.max) {
    throw new ConfigError(`${options.key} must be between ${options.min} and ${options.max}, got ${value}`);
  }
  return value;
}

/** Reads a boolean setting ('true'/'false', '1'/'0'), with a default. */
export function getBoolFromEnv(options: { key: string; defaultValue: boolean; env?: Env }): boolean {
  const raw = (options.env ?? process.env)[options.key];
  if (raw === undefined || raw === '') return options.defaultValue;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${options.key} must be 'true' or 'false', got '${raw}'`);
}

/** Reads a JSON setting and validates it with the given parser (a zod schema's parse). */
export function getJsonFromEnv<T>(options: {
  key: string;
  parse: (value: unknown) => T;
  defaultValue?: T;
  env?: Env;
}): T {
  const raw = (options.env ?? process.env)[options.key];
  if (raw === undefined || raw === '') {
    if (options.defaultValue !== undefined) return options.defaultValue;
    throw new ConfigError(`environment variable ${options.key} is required`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new ConfigError(`${options.key} is not valid JSON`, { cause });
  }
  try {
    return options.parse(json);
  } catch (cause) {
    throw new ConfigError(`${options.key} is invalid: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
