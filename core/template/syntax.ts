import type { Json } from './types.js';

/*
 * The shape of intrinsic functions and conditions as a template body spells them: what validation
 * (here, at synth and in the ops CLI) and evaluation (the local cloud) both read.
 */

/** Intrinsic functions usable in resource properties and DeviceConfiguration. */
export const VALUE_FUNCTIONS: ReadonlySet<string> = new Set([
  'Ref', 'Fn::Join', 'Fn::Select', 'Fn::Split', 'Fn::Sub', 'Fn::FindInMap', 'Fn::If',
]);
/** Functions usable only in the Conditions section. */
export const CONDITION_FUNCTIONS: ReadonlySet<string> = new Set(['Fn::Equals', 'Fn::Not', 'Fn::And', 'Fn::Or']);

/** Fn::And and Fn::Or take 2 to 10 conditions, as in CloudFormation. */
export const MIN_CONDITION_OPERANDS = 2;
export const MAX_CONDITION_OPERANDS = 10;

export type JsonObject = { [key: string]: Json };

export function isJsonObject(value: Json): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isIntrinsicKey(key: string): boolean {
  return key === 'Ref' || key.startsWith('Fn::');
}

export interface IntrinsicCall {
  readonly name: string;
  readonly args: Json;
}

/** The call when `node` is a one-key object whose key is `Ref` or `Fn::*`; otherwise undefined. */
export function asIntrinsic(node: Json): IntrinsicCall | undefined {
  if (!isJsonObject(node)) return undefined;
  const keys = Object.keys(node);
  const [name] = keys;
  if (keys.length !== 1 || name === undefined || !isIntrinsicKey(name)) return undefined;
  return { name, args: node[name] ?? null };
}

export type SubPart = { readonly text: string } | { readonly variable: string };

/**
 * Splits an Fn::Sub template into text and `${Name}` variables. `${!Text}` stands for the
 * literal `${Text}`; a `${` with no closing brace is kept as text.
 */
export function parseSubTemplate(template: string): SubPart[] {
  const parts: SubPart[] = [];
  let text = '';
  let index = 0;
  while (index < template.length) {
    const start = template.indexOf('${', index);
    const end = start < 0 ? -1 : template.indexOf('}', start + 2);
    if (start < 0 || end < 0) {
      text += template.slice(index);
      break;
    }
    text += template.slice(index, start);
    const inner = template.slice(start + 2, end);
    if (inner.startsWith('!')) {
      text += `\${${inner.slice(1)}}`;
    } else {
      if (text !== '') parts.push({ text });
      text = '';
      parts.push({ variable: inner });
    }
    index = end + 1;
  }
  if (text !== '') parts.push({ text });
  return parts;
}

/** The function call when `node` is a one-key condition object (`Fn::Equals`... or `Condition`). */
export function asConditionCall(node: Json): { name: string; args: Json } | undefined {
  if (!isJsonObject(node)) return undefined;
  const keys = Object.keys(node);
  const [name] = keys;
  if (keys.length !== 1 || name === undefined) return undefined;
  if (name !== 'Condition' && name !== 'Fn::Equals' && name !== 'Fn::Not' && name !== 'Fn::And' && name !== 'Fn::Or') {
    return undefined;
  }
  return { name, args: node[name] ?? null };
}

