import { InvalidInput } from '@global-iot/core/errors.js';
import { topicMatches } from '../mqtt/topics.js';

/**
 * AWS IoT rules, as far as the product uses them: a rule has a name and SQL of the form
 * `SELECT <items> FROM '<topic filter>'`, where an item is `*` (the JSON payload's fields) or one
 * of the functions `clientid()`, `principal()`, `timestamp()` with `AS <name>`; its action
 * invokes a function asynchronously with the selected object. A rule receives the messages
 * published on topics its filter matches, and, through Basic Ingest, the messages published to
 * `$aws/rules/<its name>/<topic>` whose rest matches the filter: those reach the rule alone,
 * never a subscriber. The SQL is parsed at start, so a rule this emulator cannot run is refused
 * then rather than ignored.
 */

export class InvalidRule extends InvalidInput {
  override name = 'InvalidRule';
}

/** What the rule's functions read: the connection that published, the topic, the time. */
export interface RuleContext {
  /** The publishing client's id; absent for AWS's own messages (lifecycle events): `n/a`. */
  readonly clientId?: string;
  /** For a client with an X.509 certificate, the certificate id. */
  readonly principal?: string;
  readonly topic: string;
  readonly timestamp: number;
}

export interface RuleDefinition {
  /** AWS: 1 to 128 characters of [a-zA-Z0-9_]; the Basic Ingest topic names it. */
  readonly name: string;
  readonly sql: string;
  /** The rule's action, given the selected object. */
  readonly action: (selected: Record<string, unknown>) => Promise<void>;
}

export interface CompiledRule {
  readonly name: string;
  readonly topicFilter: string;
  /** The selected object, or undefined when the rule needs a JSON payload and the message has none. */
  select(payload: unknown, context: RuleContext): Record<string, unknown> | undefined;
  readonly action: RuleDefinition['action'];
}

const SQL = /^\s*SELECT\s+(.+?)\s+FROM\s+'([^']+)'\s*$/is;
const FUNCTION_ITEM = /^([a-z_]+)\(\)\s+AS\s+([A-Za-z_][A-Za-z0-9_]*)$/i;
const FUNCTIONS: Readonly<Record<string, (context: RuleContext) => unknown>> = {
  clientid: (c) => c.clientId ?? 'n/a',
  principal: (c) => c.principal,
  timestamp: (c) => c.timestamp,
};

type Item = { kind: 'all' } | { kind: 'function'; fn: (context: RuleContext) => unknown; alias: string };

function parseItem(text: string, rule: string): Item {
  if (text === '*') return { kind: 'all' };
  const match = FUNCTION_ITEM.exec(text);
  const fn = match?.[1] ? FUNCTIONS[match[1].toLowerCase()] : undefined;
  if (!match?.[2] || !fn) {
    throw new InvalidRule(`rule ${rule}: '${text}' is not emulated (only *, and clientid(), principal(), timestamp() AS <name>)`);
  }
  return { kind: 'function', fn, alias: match[2] };
}

export function compileRule(definition: RuleDefinition): CompiledRule {
  if (!/^[a-zA-Z0-9_]{1,128}$/.test(definition.name)) throw new InvalidRule(`rule names are 1 to 128 characters of [a-zA-Z0-9_]: ${definition.name}`);
  const sql = SQL.exec(definition.sql);
  if (!sql?.[1] || !sql[2]) throw new InvalidRule(`rule ${definition.name}: only SELECT <items> FROM '<topic filter>' is emulated`);
  const items = sql[1].split(',').map((item) => parseItem(item.trim(), definition.name));
  const needsPayload = items.some((i) => i.kind === 'all');
  return {
    name: definition.name,
    topicFilter: sql[2],
    select(payload, context) {
      if (needsPayload && (typeof payload !== 'object' || payload === null || Array.isArray(payload))) return undefined;
      const selected: Record<string, unknown> = {};
      for (const item of items) {
        if (item.kind === 'all') Object.assign(selected, payload);
        else selected[item.alias] = item.fn(context);
      }
      return selected;
    },
    action: definition.action,
  };
}

/** `$aws/rules/<rule>/<topic>`: Basic Ingest's rule and the topic its filter sees; else undefined. */
export function basicIngestTarget(topic: string): { ruleName: string; topic: string } | undefined {
  const match = /^\$aws\/rules\/([^/]+)\/(.+)$/.exec(topic);
  return match?.[1] && match[2] ? { ruleName: match[1], topic: match[2] } : undefined;
}

/** Topics Basic Ingest reserves: no subscription may name them. */
export function isBasicIngestFilter(filter: string): boolean {
  return filter === '$aws/rules' || filter.startsWith('$aws/rules/');
}

/** The rules a message reaches: the named one through Basic Ingest, else every rule whose filter matches. */
export function rulesFor(rules: readonly CompiledRule[], topic: string): { rules: CompiledRule[]; topic: string; basicIngest: boolean } {
  const ingest = basicIngestTarget(topic);
  if (ingest) {
    return { rules: rules.filter((r) => r.name === ingest.ruleName && topicMatches(r.topicFilter, ingest.topic)), topic: ingest.topic, basicIngest: true };
  }
  return { rules: rules.filter((r) => topicMatches(r.topicFilter, topic)), topic, basicIngest: false };
}
