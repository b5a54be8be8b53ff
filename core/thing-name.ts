import * as z from 'zod';

/** AWS IoT's rule for thing names: 1 to 128 characters of [a-zA-Z0-9:_-]. */
export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

export const thingNameSchema = z
  .string()
  .regex(THING_NAME_PATTERN, 'thing name must be 1 to 128 characters of [a-zA-Z0-9:_-]');

export function isValidThingName(value: unknown): value is string {
  return typeof value === 'string' && THING_NAME_PATTERN.test(value);
}
