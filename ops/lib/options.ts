import type * as z from 'zod';
import { UsageError } from './errors.js';

const flagOf = (key: PropertyKey): string => `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Validates a command's flags (commander hands them over as strings) and names the bad flag. */
export function parseFlags<S extends z.ZodType>(schema: S, flags: unknown): z.output<S> {
  const parsed = schema.safeParse(flags);
  if (!parsed.success) {
    throw new UsageError(
      parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.map(flagOf).join(' ') : 'flags'}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

/** `a,b , c` to ['a', 'b', 'c']; repeated flags are joined first. */
export function splitList(value: string | readonly string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const parts = (typeof value === 'string' ? [value] : value).flatMap((v) => v.split(',')).map((v) => v.trim());
  return parts.filter((v) => v !== '');
}
