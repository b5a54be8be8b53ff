import * as z from 'zod';
import { InvalidInput } from '@global-iot/core/errors.js';

/**
 * AWS IoT Core policy evaluation for the actions the broker checks: iot:Connect, iot:Publish,
 * iot:Subscribe, iot:Receive (and iot:RetainPublish). As in AWS: an explicit Deny wins, otherwise
 * an Allow is needed; resources are ARNs matched with IAM's `*` and `?` wildcards (MQTT's `+` and
 * `#` are plain characters in a policy); policy variables are substituted literally, and a
 * statement whose variable cannot be resolved does not match.
 */

export class InvalidPolicy extends InvalidInput {
  override name = 'InvalidPolicy';
}

export type IotAction = 'iot:Connect' | 'iot:Publish' | 'iot:Subscribe' | 'iot:Receive' | 'iot:RetainPublish';

const stringOrList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const statementSchema = z.object({
  Sid: z.string().optional(),
  Effect: z.enum(['Allow', 'Deny']),
  Action: stringOrList,
  Resource: stringOrList,
  // Condition values are strings in IAM's grammar; AWS also takes JSON booleans (`"Bool": {...: true}`).
  Condition: z
    .record(z.string(), z.record(z.string(), z.union([z.string(), z.boolean(), z.array(z.string())]).transform((v) => (typeof v === 'boolean' ? String(v) : v))))
    .optional(),
});

const policyDocumentSchema = z.object({
  Version: z.string().optional(),
  Statement: z.union([statementSchema, z.array(statementSchema).min(1)]),
});

/** AWS IoT: a policy document is at most 2,048 characters without whitespace. */
export const MAX_POLICY_CHARS = 2048;

export interface PolicyContext {
  readonly region: string;
  readonly accountId: string;
  readonly clientId: string;
  /**
   * iot:Connection.Thing.* resolve only when the client id is the name of a thing attached to
   * the connection's certificate, as in AWS (without the exclusive-thing feature).
   */
  readonly thing?: {
    readonly thingName: string;
    readonly thingTypeName?: string;
    readonly attributes: Readonly<Record<string, string>>;
  };
  /**
   * iot:ConnectAttributes of an iot:Connect request: `LastWill` when the CONNECT carries a will,
   * `PersistentConnect` when its session is to outlive the connection. Absent for other actions.
   */
  readonly connectAttributes?: readonly ConnectAttribute[];
}

export type ConnectAttribute = 'LastWill' | 'PersistentConnect';

interface CompiledStatement {
  readonly allow: boolean;
  readonly actions: readonly RegExp[];
  readonly resources: readonly string[];
  readonly condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

export interface CompiledPolicy {
  readonly statements: readonly CompiledStatement[];
}

function wildcardRegExp(pattern: string): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'i');
}

/** Parses and validates a policy document (JSON text), ready for evaluation. */
export function compilePolicy(documentJson: string): CompiledPolicy {
  if (documentJson.replace(/\s+/g, '').length > MAX_POLICY_CHARS) {
    throw new InvalidPolicy(`the policy document is longer than ${MAX_POLICY_CHARS} characters`);
  }
  let json: unknown;
  try {
    json = JSON.parse(documentJson);
  } catch (cause) {
    throw new InvalidPolicy('the policy document is not valid JSON', { cause });
  }
  const parsed = policyDocumentSchema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidPolicy(`the policy document is invalid: ${parsed.error.issues[0]?.message ?? 'unknown problem'}`);
  }
  const list = Array.isArray(parsed.data.Statement) ? parsed.data.Statement : [parsed.data.Statement];
  const asList = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);
  return {
    statements: list.map((s) => ({
      allow: s.Effect === 'Allow',
      actions: asList(s.Action).map(wildcardRegExp),
      resources: asList(s.Resource),
      ...(s.Condition ? { condition: s.Condition } : {}),
    })),
  };
}

function variableValue(name: string, ctx: PolicyContext): string | undefined {
  switch (name) {
    case 'iot:ClientId':
      return ctx.clientId;
    case 'iot:Connection.Thing.ThingName':
      return ctx.thing?.thingName;
    case 'iot:Connection.Thing.ThingTypeName':
      return ctx.thing?.thingTypeName;
    case 'iot:Connection.Thing.IsAttached':
      return ctx.thing ? 'true' : 'false';
    case '*':
      return '*';
    case '?':
      return '?';
    case '$':
      return '$';
    default: {
      const attribute = /^iot:Connection\.Thing\.Attributes\[(.+)\]$/.exec(name);
      if (attribute?.[1] !== undefined && ctx.thing) return ctx.thing.attributes[attribute[1]];
      return undefined;
    }
  }
}

/** Every message routed checks Receive per subscriber: compile each substituted pattern once. */
const compiledResources = new Map<string, RegExp>();
const MAX_COMPILED_RESOURCES = 10_000;

/** A resource pattern split once into regular-expression text and the variables between it. */
type PatternPart = { readonly text: string } | { readonly variable: string };
const parsedPatterns = new Map<string, readonly PatternPart[] | null>();

/** Null when a `${` is never closed: such a pattern matches nothing. */
function patternParts(pattern: string): readonly PatternPart[] | null {
  const cached = parsedPatterns.get(pattern);
  if (cached !== undefined) return cached;
  const parts: PatternPart[] = [];
  let text = '';
  let parsed: readonly PatternPart[] | null = parts;
  for (let i = 0; i < pattern.length; ) {
    const ch = pattern[i] ?? '';
    if (ch === '$' && pattern[i + 1] === '{') {
      const end = pattern.indexOf('}', i + 2);
      if (end < 0) {
        parsed = null;
        break;
      }
      if (text) parts.push({ text });
      text = '';
      parts.push({ variable: pattern.slice(i + 2, end) });
      i = end + 1;
      continue;
    }
    text += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    i++;
  }
  if (parsed && text) parts.push({ text });
  if (parsedPatterns.size >= MAX_COMPILED_RESOURCES) parsedPatterns.clear();
  parsedPatterns.set(pattern, parsed);
  return parsed;
}

/**
 * Turns a resource pattern into a regular expression for one connection: wildcards stay
 * wildcards, substituted values are literal. Undefined when a variable has no value.
 */
function resourceRegExp(pattern: string, ctx: PolicyContext): RegExp | undefined {
  const parts = patternParts(pattern);
  if (!parts) return undefined;
  let source = '';
  for (const part of parts) {
    if ('text' in part) {
      source += part.text;
      continue;
    }
    const value = variableValue(part.variable, ctx);
    if (value === undefined) return undefined;
    source += value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  let compiled = compiledResources.get(source);
  if (!compiled) {
    if (compiledResources.size >= MAX_COMPILED_RESOURCES) compiledResources.clear();
    compiled = new RegExp(`^${source}$`);
    compiledResources.set(source, compiled);
  }
  return compiled;
}

/** The values of a multi-valued condition key; a single-valued key counts as a set of one. */
function keyValues(key: string, ctx: PolicyContext): readonly string[] | undefined {
  if (key === 'iot:ConnectAttributes') return ctx.connectAttributes;
  const value = variableValue(key, ctx);
  return value === undefined ? undefined : [value];
}

/**
 * IAM's set operators: ForAllValues holds when every value of the request is listed (and when
 * the request has none, as IAM documents); ForAnyValue when at least one is.
 */
function setConditionHolds(operator: string, key: string, wanted: readonly string[], ctx: PolicyContext): boolean | undefined {
  const values = keyValues(key, ctx);
  switch (operator) {
    case 'ForAllValues:StringEquals':
      return (values ?? []).every((v) => wanted.includes(v));
    case 'ForAnyValue:StringEquals':
      return (values ?? []).some((v) => wanted.includes(v));
    default:
      return undefined;
  }
}

/** True, false, or undefined when the condition uses something this emulator does not model. */
function conditionHolds(condition: CompiledStatement['condition'], ctx: PolicyContext): boolean | undefined {
  if (!condition) return true;
  for (const [operator, entries] of Object.entries(condition)) {
    for (const [key, expected] of Object.entries(entries)) {
      const wanted = Array.isArray(expected) ? expected : [expected as string];
      if (operator.startsWith('ForAllValues:') || operator.startsWith('ForAnyValue:')) {
        const holds = setConditionHolds(operator, key, wanted, ctx);
        if (holds !== true) return holds;
        continue;
      }
      const actual = variableValue(key, ctx);
      let holds: boolean;
      switch (operator) {
        case 'Bool':
        case 'StringEquals':
          holds = actual !== undefined && wanted.includes(actual);
          break;
        case 'StringNotEquals':
          holds = actual !== undefined && !wanted.includes(actual);
          break;
        case 'StringLike':
          holds = actual !== undefined && wanted.some((w) => wildcardRegExp(w).test(actual));
          break;
        default:
          return undefined;
      }
      if (!holds) return false;
    }
  }
  return true;
}

export function resourceArn(ctx: Pick<PolicyContext, 'region' | 'accountId'>, kind: 'client' | 'topic' | 'topicfilter', name: string): string {
  return `arn:aws:iot:${ctx.region}:${ctx.accountId}:${kind}/${name}`;
}

/** Evaluates one request against every policy attached to the principal. */
export function isAllowed(policies: readonly CompiledPolicy[], action: IotAction, resource: string, ctx: PolicyContext): boolean {
  let allowed = false;
  for (const policy of policies) {
    for (const statement of policy.statements) {
      if (!statement.actions.some((a) => a.test(action))) continue;
      const holds = conditionHolds(statement.condition, ctx);
      // An unmodelled condition never grants, and never lifts a Deny.
      if (holds === false || (holds === undefined && statement.allow)) continue;
      const matches = statement.resources.some((pattern) => resourceRegExp(pattern, ctx)?.test(resource) ?? false);
      if (!matches) continue;
      if (!statement.allow) return false;
      allowed = true;
    }
  }
  return allowed;
}
