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

/*
 * Resources are matched without a regular expression per connection. A pattern's variables are
 * substituted with the connection's values, so each device's patterns differed from every other
 * device's, and each compiled a RegExp of its own (V8 compiles one twice: to bytecode, then to
 * machine code on its second use): about a quarter of a millisecond per provisioned device. A
 * pattern is now a list of characters and wildcards, parsed once, that the request's values
 * extend as plain characters, matched as IAM matches: `*` any run, `?` any one character.
 */

/** A wildcard in a parsed pattern; every other entry is a UTF-16 code unit to match as is. */
const ANY_RUN = -1;
const ANY_ONE = -2;

/** A resource pattern split once into its characters (wildcards marked) and the variables between them. */
type PatternPart = { readonly glob: readonly number[] } | { readonly variable: string };
const parsedPatterns = new Map<string, readonly PatternPart[] | null>();
const MAX_PARSED_PATTERNS = 10_000;

/** Null when a `${` is never closed: such a pattern matches nothing. */
function patternParts(pattern: string): readonly PatternPart[] | null {
  const cached = parsedPatterns.get(pattern);
  if (cached !== undefined) return cached;
  const parts: PatternPart[] = [];
  let glob: number[] = [];
  let parsed: readonly PatternPart[] | null = parts;
  for (let i = 0; i < pattern.length; ) {
    const code = pattern.charCodeAt(i);
    if (code === 0x24 /* $ */ && pattern[i + 1] === '{') {
      const end = pattern.indexOf('}', i + 2);
      if (end < 0) {
        parsed = null;
        break;
      }
      if (glob.length > 0) parts.push({ glob });
      glob = [];
      parts.push({ variable: pattern.slice(i + 2, end) });
      i = end + 1;
      continue;
    }
    glob.push(code === 0x2a /* * */ ? ANY_RUN : code === 0x3f /* ? */ ? ANY_ONE : code);
    i++;
  }
  if (parsed && glob.length > 0) parts.push({ glob });
  if (parsedPatterns.size >= MAX_PARSED_PATTERNS) parsedPatterns.clear();
  parsedPatterns.set(pattern, parsed);
  return parsed;
}

/** A pattern with this connection's values in place; undefined when a variable has no value. */
function substituted(parts: readonly PatternPart[], ctx: PolicyContext): number[] | undefined {
  const glob: number[] = [];
  for (const part of parts) {
    if ('glob' in part) {
      for (const code of part.glob) glob.push(code);
      continue;
    }
    const value = variableValue(part.variable, ctx);
    if (value === undefined) return undefined;
    for (let i = 0; i < value.length; i++) glob.push(value.charCodeAt(i));
  }
  return glob;
}

/** Line terminators, which a wildcard never matched while patterns were regular expressions (`.`). */
const isLineTerminator = (code: number): boolean => code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029;

/**
 * Whether `subject` matches `glob` whole. Greedy, going back only to the last `*`: enough for
 * wildcards that match any character, as each `*` can take over what a later one would have
 * taken. The subject contains no line terminator (the caller sees to that).
 */
function globMatches(glob: readonly number[], subject: string): boolean {
  let g = 0;
  let s = 0;
  let lastRun = -1;
  let runEnd = 0;
  while (s < subject.length) {
    const code = subject.charCodeAt(s);
    const want = g < glob.length ? glob[g] : undefined;
    if (want === ANY_RUN) {
      lastRun = g;
      g += 1;
      runEnd = s;
    } else if (want === ANY_ONE || want === code) {
      g += 1;
      s += 1;
    } else if (lastRun >= 0) {
      g = lastRun + 1;
      runEnd += 1;
      s = runEnd;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === ANY_RUN) g += 1;
  return g === glob.length;
}

/** The same match as a regular expression, for the rare text with a line terminator. */
function regExpMatches(glob: readonly number[], subject: string): boolean {
  let source = '';
  for (const code of glob) {
    if (code === ANY_RUN) source += '.*';
    else if (code === ANY_ONE) source += '.';
    else source += String.fromCharCode(code).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`).test(subject);
}

/** Whether `resource` matches `pattern` for this connection (a variable without a value matches nothing). */
function resourceMatches(pattern: string, ctx: PolicyContext, resource: string): boolean {
  const parts = patternParts(pattern);
  if (!parts) return false;
  const glob = substituted(parts, ctx);
  if (!glob) return false;
  // A wildcard never matches a line terminator; a pattern's own ones only ever match themselves.
  for (let i = 0; i < resource.length; i++) if (isLineTerminator(resource.charCodeAt(i))) return regExpMatches(glob, resource);
  return globMatches(glob, resource);
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
      const matches = statement.resources.some((pattern) => resourceMatches(pattern, ctx, resource));
      if (!matches) continue;
      if (!statement.allow) return false;
      allowed = true;
    }
  }
  return allowed;
}
