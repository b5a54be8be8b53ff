import { Argument, type Command, Option } from 'commander';
import * as z from 'zod';
import { UsageError } from './errors.js';

/**
 * A command's flags and arguments, each declared once: the one declaration gives commander its
 * option (flags, description, default, mandatory) and zod the schema that validates the value,
 * so help text, parsing and validation cannot drift apart.
 */

/** One flag: a fresh commander option on demand (commands are built anew for every run) and its schema. */
export interface Flag<S extends z.ZodType = z.ZodType> {
  option(): Option;
  readonly schema: S;
}

/** One positional argument, the same way. */
export interface Arg<S extends z.ZodType = z.ZodType> {
  argument(): Argument;
  readonly schema: S;
}

export const flag = {
  /**
   * `--name <value>`: the string commander parsed, or `undefined` when the flag is absent and has
   * no default; `schema` checks (and may convert) it. A default is shown in the help.
   */
  string<S extends z.ZodType>(flags: string, description: string, schema: S, options: { default?: string; required?: boolean } = {}): Flag<S> {
    return {
      schema,
      option: () => {
        const option = new Option(flags, description);
        if (options.default !== undefined) option.default(options.default);
        if (options.required) option.makeOptionMandatory();
        return option;
      },
    };
  },

  /** `--name`: true when given, false when not. */
  boolean(flags: string, description: string): Flag<z.ZodDefault<z.ZodBoolean>> {
    return { schema: z.boolean().default(false), option: () => new Option(flags, description) };
  },

  /** `--no-name`: false when given, true when not. */
  negatable(flags: string, description: string): Flag<z.ZodBoolean> {
    if (!flags.startsWith('--no-')) throw new Error(`a negatable flag starts with --no-: ${flags}`);
    return { schema: z.boolean(), option: () => new Option(flags, description) };
  },

  /** `--name <value>`, repeatable: every value given, in order (none: an empty list). */
  repeatable<S extends z.ZodType>(flags: string, description: string, item: S): Flag<z.ZodArray<S>> {
    return {
      schema: z.array(item),
      option: () =>
        new Option(flags, description).default([]).argParser((value: string, previous: readonly string[]) => [...previous, value]),
    };
  },
};

/** `<name>` (required) or `[name]` (optional); `schema` gets `undefined` for an absent optional one. */
export function arg<S extends z.ZodType>(name: string, description: string, schema: S): Arg<S> {
  return { schema, argument: () => new Argument(name, description) };
}

type Shape<T extends Record<string, { readonly schema: z.ZodType }>> = { [K in keyof T]: T[K]['schema'] };
export type FlagValues<T extends Record<string, Flag>> = z.output<z.ZodObject<Shape<T>>>;
export type ArgValues<T extends Record<string, Arg>> = z.output<z.ZodObject<Shape<T>>>;

export interface FlagSet<T extends Record<string, Flag>> {
  readonly flags: T;
  /** Declares every flag on a commander command, in the order given. */
  addTo(command: Command): void;
  /** Validates what commander parsed; a bad value is a UsageError that names its flag. */
  parse(raw: unknown): FlagValues<T>;
  /** One flag's validated value, or undefined when it is not valid (to decide how to report an error). */
  peek<K extends keyof T & string>(raw: Readonly<Record<string, unknown>>, key: K): z.output<T[K]['schema']> | undefined;
}

export interface ArgSet<T extends Record<string, Arg>> {
  readonly args: T;
  addTo(command: Command): void;
  /** Validates commander's `processedArgs`, in declaration order. */
  parse(values: readonly unknown[]): ArgValues<T>;
}

function objectSchema<T extends Record<string, { readonly schema: z.ZodType }>>(items: T): z.ZodObject<Shape<T>> {
  const shape = Object.fromEntries(Object.entries(items).map(([key, item]) => [key, item.schema]));
  return z.object(shape) as z.ZodObject<Shape<T>>;
}

/** Validates `value`; every problem is named by the flag or argument it is about. */
function validate<S extends z.ZodType>(schema: S, value: unknown, label: (key: string) => string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new UsageError(parsed.error.issues.map((i) => `${label(String(i.path[0] ?? ''))}: ${i.message}`).join('; '));
}

/**
 * The flags of one command. Each key must be the name commander stores the flag under
 * (`--dry-run` is `dryRun`, `--no-prune` is `prune`): a mismatch is a programming error, refused
 * when the command is defined rather than silently never validated.
 */
export function defineFlags<T extends Record<string, Flag>>(flags: T): FlagSet<T> {
  const names = new Map<string, string>();
  for (const [key, f] of Object.entries(flags)) {
    const option = f.option();
    if (option.attributeName() !== key) throw new Error(`flag ${option.flags} is stored as "${option.attributeName()}", not "${key}"`);
    names.set(key, option.long ?? option.flags);
  }
  const schema = objectSchema(flags);
  return {
    flags,
    addTo(command) {
      for (const f of Object.values(flags)) command.addOption(f.option());
    },
    parse: (raw) => validate(schema, raw, (key) => names.get(key) ?? key),
    peek(raw, key) {
      const parsed = flags[key]?.schema.safeParse(raw[key]);
      return parsed?.success ? (parsed.data as z.output<T[typeof key]['schema']>) : undefined;
    },
  };
}

/** The positional arguments of one command; each key must be the argument's name. */
export function defineArgs<T extends Record<string, Arg>>(args: T): ArgSet<T> {
  const keys = Object.keys(args);
  for (const [key, a] of Object.entries(args)) {
    const name = a.argument().name();
    if (name !== key) throw new Error(`argument ${name} is declared under the key "${key}"`);
  }
  const schema = objectSchema(args);
  return {
    args,
    addTo(command) {
      for (const a of Object.values(args)) command.addArgument(a.argument());
    },
    parse: (values) => validate(schema, Object.fromEntries(keys.map((key, i) => [key, values[i]])), (key) => `<${key}>`),
  };
}
