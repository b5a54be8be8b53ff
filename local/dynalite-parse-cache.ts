import { createRequire } from 'node:module';
import { BoundedCache } from '@global-iot/core/bounded-cache.js';

/**
 * A parse cache for dynalite's expression parsers, installed from here without changing the
 * package. dynalite parses every ConditionExpression, UpdateExpression, KeyConditionExpression,
 * FilterExpression and ProjectionExpression with PEG.js parsers on every request, and they
 * backtrack: a condition with an OR of ANDs costs tens of milliseconds, and most of dynalite's
 * time went to parsing the same few expressions again. DynamoDB itself does not slow down with
 * an expression's nesting, so the product writes the conditions it wants and the emulator
 * adapts.
 *
 * What a parse yields depends on the expression, the attribute names it resolves and the types
 * of the values it uses (operand type checks); the values themselves are only placed into the
 * tree. So a parse is cached under (expression, names, value types), with each value replaced by
 * a slot that the next request's value fills; every request gets a tree of its own (dynalite
 * rewrites key-condition trees in place). The parse's side effect, marking names and values as
 * used, is replayed. Left to the parser every time: expressions whose checks read values'
 * contents (BETWEEN's bounds, attribute_type's type name), and parses that fail (their message
 * is dynalite's own).
 */

/** An AttributeValue as dynalite's parsers receive it ({S: '...'}, {N: '...'}, ...). */
type AttributeValue = Readonly<Record<string, unknown>>;

interface ParseContext {
  attrNames?: Readonly<Record<string, string>>;
  attrVals?: Readonly<Record<string, AttributeValue>>;
  /** The parser deletes each name and value it uses; the caller reports what is left. */
  unusedAttrNames?: Record<string, unknown>;
  unusedAttrVals?: Record<string, unknown>;
  readonly [other: string]: unknown;
}

interface ParseOptions {
  context: ParseContext;
  readonly [other: string]: unknown;
}

/** A PEG.js parser module of dynalite's (`db/*Parser.js`). */
export interface PegParser {
  parse: (input: string, options: ParseOptions) => unknown;
}

/** Where a cached tree holds a request's value. */
class ValueSlot {
  constructor(readonly key: string) {}
}

/** A tree that cannot be kept (an object that is not plain data). */
class NotPlainData extends Error {
  override name = 'NotPlainData';
}

interface CachedParse {
  readonly build: Build;
  /** The names and values the expression uses. */
  readonly names: readonly string[];
  readonly values: readonly string[];
}

/** A parse that must be made again each time: it failed, and its message is dynalite's. */
const PARSE_EACH_TIME = 'parse-each-time';
type Entry = CachedParse | typeof PARSE_EACH_TIME;

export const PARSER_MODULES = ['dynalite/db/conditionParser', 'dynalite/db/updateParser', 'dynalite/db/projectionParser'] as const;
/** Distinct (expression, names, value types) kept per parser; a product uses a few dozen. */
export const PARSE_CACHE_LIMIT = 1_000;
/** Checks that read values' contents: BETWEEN compares its bounds, attribute_type reads its type name. */
const READS_VALUE_CONTENTS = /between|attribute_type/i;
const INSTALLED = Symbol.for('global-iot.dynalite-parse-cache');

const stats = { hits: 0, misses: 0, uncached: 0 };

/** Counts since the process (or thread) started: for tests and benchmarks. */
export function parseCacheStats(): Readonly<typeof stats> {
  return { ...stats };
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A copy of `node` in which every value of the request (by identity) is a slot. */
function toTemplate(node: unknown, slots: ReadonlyMap<unknown, string>): unknown {
  if (typeof node !== 'object' || node === null) return node;
  const slot = slots.get(node);
  if (slot !== undefined) return new ValueSlot(slot);
  if (Array.isArray(node)) return node.map((item: unknown) => toTemplate(item, slots));
  if (!isPlainObject(node)) throw new NotPlainData('the parse holds an object that is not plain data');
  // Same prototype: dynalite keeps some maps in objects without one.
  const copy = Object.create(Object.getPrototypeOf(node) as object | null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(node)) copy[key] = toTemplate(value, slots);
  return copy;
}

/** Builds a fresh tree from this request's values. */
type Build = (values: Readonly<Record<string, AttributeValue>>) => unknown;

/**
 * Compiles a template once into a function that builds a fresh copy of it, each slot filled with
 * the request's value: every request gets a tree of its own without walking the template again.
 */
function compile(template: unknown): Build {
  if (template instanceof ValueSlot) {
    const { key } = template;
    return (values) => values[key];
  }
  if (typeof template !== 'object' || template === null) return () => template;
  if (Array.isArray(template)) {
    const items = template.map((item: unknown) => compile(item));
    return (values) => items.map((build) => build(values));
  }
  const prototype = Object.getPrototypeOf(template) as object | null;
  const members = Object.entries(template).map(([key, value]) => [key, compile(value)] as const);
  return (values) => {
    const copy = Object.create(prototype) as Record<string, unknown>;
    for (const [key, build] of members) copy[key] = build(values);
    return copy;
  };
}

function typeOf(value: AttributeValue): string {
  // An AttributeValue has one member, its type (validated before parsing); `for in` avoids an array.
  let type = '';
  for (const key in value) type += key;
  return type;
}

/** The names and the value types, in the request's order: a client sends the same order each time. */
function cacheKey(input: string, names: Readonly<Record<string, string>>, values: Readonly<Record<string, AttributeValue>>): string {
  let key = input;
  for (const name in names) key += `\u0000${name}=${names[name] ?? ''}`;
  key += '\u0001';
  for (const name in values) {
    const value = values[name];
    key += `\u0000${name}:${value ? typeOf(value) : ''}`;
  }
  return key;
}

function allKeys(record: Readonly<Record<string, unknown>>): Record<string, true> {
  return Object.fromEntries(Object.keys(record).map((key) => [key, true]));
}

function markUsed(context: ParseContext, entry: CachedParse): void {
  for (const name of entry.names) if (context.unusedAttrNames) delete context.unusedAttrNames[name];
  for (const value of entry.values) if (context.unusedAttrVals) delete context.unusedAttrVals[value];
}

/** What to keep of a first parse made with `probe` (whose unused lists started full). */
function learn(tree: unknown, probe: ParseContext, names: Readonly<Record<string, string>>, values: Readonly<Record<string, AttributeValue>>): Entry {
  // A failed parse is a message (string), not a tree.
  if (typeof tree !== 'object' || tree === null) return PARSE_EACH_TIME;
  const slots = new Map<unknown, string>(Object.entries(values).map(([key, value]) => [value, key]));
  try {
    return {
      build: compile(toTemplate(tree, slots)),
      names: Object.keys(names).filter((name) => !(name in (probe.unusedAttrNames ?? {}))),
      values: Object.keys(values).filter((value) => !(value in (probe.unusedAttrVals ?? {}))),
    };
  } catch (error) {
    if (error instanceof NotPlainData) return PARSE_EACH_TIME;
    throw error;
  }
}

/** `parse` of one parser module, with its cache. */
export function cachingParse(parse: PegParser['parse'], limit: number = PARSE_CACHE_LIMIT): PegParser['parse'] {
  const cache = new BoundedCache<string, Entry>(limit);
  return (input, options) => {
    const { context } = options;
    if (READS_VALUE_CONTENTS.test(input)) {
      stats.uncached += 1;
      return parse(input, options);
    }
    const names = context.attrNames ?? {};
    const values = context.attrVals ?? {};
    let first: { tree: unknown } | undefined;
    let entry: Entry;
    try {
      entry = cache.get(cacheKey(input, names, values), () => {
        const probe: ParseContext = { ...context, unusedAttrNames: allKeys(names), unusedAttrVals: allKeys(values) };
        const tree = parse(input, { ...options, context: probe });
        first = { tree };
        return learn(tree, probe, names, values);
      });
    } catch (error) {
      // A syntax error: nothing is cached, and dynalite reports the parser's error as it is.
      stats.uncached += 1;
      throw error;
    }
    if (entry === PARSE_EACH_TIME) {
      stats.uncached += 1;
      return parse(input, options);
    }
    markUsed(context, entry);
    if (first) {
      stats.misses += 1;
      return first.tree;
    }
    stats.hits += 1;
    return entry.build(values);
  };
}

/**
 * Puts the cache in front of dynalite's parsers in this thread (each thread has its own modules);
 * once per thread, however often it is called.
 */
export function installParseCache(): void {
  const require = createRequire(import.meta.url);
  for (const id of PARSER_MODULES) {
    const parser = require(id) as PegParser & { [INSTALLED]?: true };
    if (parser[INSTALLED]) continue;
    parser.parse = cachingParse(parser.parse.bind(parser));
    parser[INSTALLED] = true;
  }
}
