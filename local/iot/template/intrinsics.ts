import type { PathSegment } from '@global-iot/core/template/path.js';
import type { Mappings } from '@global-iot/core/template/schema.js';
import { isJsonObject, parseSubTemplate, type IntrinsicCall, type JsonObject } from '@global-iot/core/template/syntax.js';
import type { Json } from '@global-iot/core/template/types.js';
import { TemplateEvaluationError } from './errors.js';

/** What `{"Ref": "AWS::NoValue"}` evaluates to: the enclosing property or list item disappears. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');
export type Value = Json | typeof NO_VALUE;

/** What the evaluator provides to the intrinsic functions. */
export interface IntrinsicEnvironment {
  evaluate(node: Json, path: readonly PathSegment[]): Value;
  /** A Ref target: parameter, pseudo parameter or resource. */
  ref(name: string, path: readonly PathSegment[]): Value;
  condition(name: string, path: readonly PathSegment[]): boolean;
  readonly mappings: Mappings;
  /** Accounts for characters an intrinsic is about to build; throws past the output limit. */
  charge(chars: number, path: readonly PathSegment[]): void;
}

export function describeValue(value: Value): string {
  if (value === NO_VALUE) return 'AWS::NoValue';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export function expectString(value: Value, path: readonly PathSegment[]): string {
  if (typeof value === 'string') return value;
  throw new TemplateEvaluationError(path, `expected a string, got ${describeValue(value)}`);
}

function expectList(value: Value, path: readonly PathSegment[]): Json[] {
  if (Array.isArray(value)) return value;
  throw new TemplateEvaluationError(path, `expected a list, got ${describeValue(value)}`);
}

function argumentList(args: Json, count: number, name: string, path: readonly PathSegment[]): Json[] {
  if (!Array.isArray(args) || args.length !== count) {
    throw new TemplateEvaluationError(path, `${name} takes a list of ${count} arguments`);
  }
  return args;
}

function at(list: readonly Json[], index: number): Json {
  return list[index] ?? null;
}

function join(env: IntrinsicEnvironment, args: Json, path: readonly PathSegment[]): string {
  const list = argumentList(args, 2, 'Fn::Join', path);
  const delimiter = expectString(at(list, 0), [...path, 0]);
  const items = expectList(env.evaluate(at(list, 1), [...path, 1]), [...path, 1]);
  const strings = items.map((item, index) => expectString(item, [...path, 1, index]));
  const length = strings.reduce((sum, item) => sum + item.length, 0) + delimiter.length * Math.max(0, strings.length - 1);
  env.charge(length, path);
  return strings.join(delimiter);
}

function toIndex(value: Value, path: readonly PathSegment[]): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d{1,9}$/.test(value)) return Number(value);
  throw new TemplateEvaluationError(path, `the index must be a non-negative integer, got ${describeValue(value)}`);
}

function select(env: IntrinsicEnvironment, args: Json, path: readonly PathSegment[]): Json {
  const list = argumentList(args, 2, 'Fn::Select', path);
  const index = toIndex(env.evaluate(at(list, 0), [...path, 0]), [...path, 0]);
  const items = expectList(env.evaluate(at(list, 1), [...path, 1]), [...path, 1]);
  const item = items[index];
  // AWS documents that an out-of-range index or a null item fails provisioning.
  if (item === undefined) throw new TemplateEvaluationError(path, `index ${index} is out of range for a list of ${items.length}`);
  if (item === null) throw new TemplateEvaluationError(path, `item ${index} is null`);
  return item;
}

function split(env: IntrinsicEnvironment, args: Json, path: readonly PathSegment[]): string[] {
  const list = argumentList(args, 2, 'Fn::Split', path);
  const delimiter = expectString(at(list, 0), [...path, 0]);
  if (delimiter === '') throw new TemplateEvaluationError([...path, 0], 'the delimiter must not be empty');
  const source = expectString(env.evaluate(at(list, 1), [...path, 1]), [...path, 1]);
  const parts = source.split(delimiter);
  env.charge(source.length + parts.length, path);
  return parts;
}

function sub(env: IntrinsicEnvironment, args: Json, path: readonly PathSegment[]): string {
  let template: Json;
  let variables: JsonObject = {};
  if (Array.isArray(args)) {
    const list = argumentList(args, 2, 'Fn::Sub', path);
    template = at(list, 0);
    const vars = at(list, 1);
    if (!isJsonObject(vars)) throw new TemplateEvaluationError([...path, 1], 'Fn::Sub variables must be an object');
    variables = vars;
  } else {
    template = args;
  }
  const text = expectString(template, Array.isArray(args) ? [...path, 0] : path);
  const resolved = new Map<string, string>();
  let out = '';
  for (const part of parseSubTemplate(text)) {
    if ('text' in part) {
      out += part.text;
      continue;
    }
    const name = part.variable;
    let value = resolved.get(name);
    if (value === undefined) {
      value = Object.hasOwn(variables, name)
        ? expectString(env.evaluate(variables[name] ?? null, [...path, 1, name]), [...path, 1, name])
        : expectString(env.ref(name, path), path);
      resolved.set(name, value);
    }
    env.charge(value.length, path);
    out += value;
  }
  return out;
}

function findInMap(env: IntrinsicEnvironment, args: Json, path: readonly PathSegment[]): Json {
  const list = argumentList(args, 3, 'Fn::FindInMap', path);
  const [mapName, topKey, secondKey] = [0, 1, 2].map((index) =>
    expectString(env.evaluate(at(list, index), [...path, index]), [...path, index]),
  ) as [string, string, string];
  const map = Object.hasOwn(env.mappings, mapName) ? env.mappings[mapName] : undefined;
  if (map === undefined) throw new TemplateEvaluationError(path, `no mapping named '${mapName}'`);
  const entry = Object.hasOwn(map, topKey) ? map[topKey] : undefined;
  if (entry === undefined) throw new TemplateEvaluationError(path, `mapping '${mapName}' has no key '${topKey}'`);
  const value = Object.hasOwn(entry, secondKey) ? entry[secondKey] : undefined;
  if (value === undefined) {
    throw new TemplateEvaluationError(path, `mapping '${mapName}' has no key '${secondKey}' under '${topKey}'`);
  }
  return Array.isArray(value) ? [...value] : value;
}

function ifThenElse(env: IntrinsicEnvironment, args: Json, path: readonly PathSegment[]): Value {
  const list = argumentList(args, 3, 'Fn::If', path);
  const name = expectString(at(list, 0), [...path, 0]);
  const branch = env.condition(name, [...path, 0]) ? 1 : 2;
  return env.evaluate(at(list, branch), [...path, branch]);
}

/** Evaluates one intrinsic call; `path` ends with the function's key. */
export function evaluateIntrinsic(
  env: IntrinsicEnvironment,
  call: IntrinsicCall,
  path: readonly PathSegment[],
): Value {
  switch (call.name) {
    case 'Ref':
      return env.ref(expectString(call.args, path), path);
    case 'Fn::Join':
      return join(env, call.args, path);
    case 'Fn::Select':
      return select(env, call.args, path);
    case 'Fn::Split':
      return split(env, call.args, path);
    case 'Fn::Sub':
      return sub(env, call.args, path);
    case 'Fn::FindInMap':
      return findInMap(env, call.args, path);
    case 'Fn::If':
      return ifThenElse(env, call.args, path);
    default:
      throw new TemplateEvaluationError(path, `${call.name} is not supported here`);
  }
}
