import { createRequire } from 'node:module';
import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachingParse, parseCacheStats, type PegParser } from '@global-iot/local/dynalite-parse-cache.js';
import { type LocalDynamo, startDynalite } from '@global-iot/local/dynamodb.js';

/**
 * The parse cache in front of dynalite's expression parsers: the same answers as the parsers
 * alone (trees, used names and values, errors), through the parser API and through DynamoDB's.
 */

const require = createRequire(import.meta.url);

/** A parser module loaded afresh: the original, whatever another test installed on the shared one. */
function freshParser(id: string): PegParser {
  const path = require.resolve(id);
  const shared: unknown = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as PegParser;
  } finally {
    require.cache[path] = shared as NodeJS.Module;
  }
}

const isReserved = (name: string): boolean => ['STATUS', 'NAME', 'REGION'].includes(name.toUpperCase());

function context(names: Record<string, string>, values: Record<string, Record<string, unknown>>) {
  return {
    attrNames: names,
    attrVals: values,
    unusedAttrNames: Object.fromEntries(Object.keys(names).map((k) => [k, true])),
    unusedAttrVals: Object.fromEntries(Object.keys(values).map((k) => [k, true])),
    isReserved,
    compare: () => false,
  };
}

function outcome(parse: PegParser['parse'], input: string, ctx: ReturnType<typeof context>): unknown {
  try {
    return { tree: parse(input, { context: ctx }), unusedNames: ctx.unusedAttrNames, unusedValues: ctx.unusedAttrVals };
  } catch (error) {
    return { threw: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

const HOOK_CONDITION =
  'ticket_id = :tid AND aws_region = :region AND (#s = :assigned OR (#s = :provisioning AND ' +
  '(attribute_not_exists(hook_ticket_id) OR hook_ticket_id <> :tid) AND (attribute_not_exists(provision_attempts) OR provision_attempts < :max)))';

describe('cachingParse', () => {
  const cases: [string, string, string, Record<string, string>, (n: number) => Record<string, Record<string, unknown>>][] = [
    ['the hook condition', 'dynalite/db/conditionParser', HOOK_CONDITION, { '#s': 'prov_status' }, (n) => ({
      ':tid': { S: `t-${n}` }, ':region': { S: 'eu-west-1' }, ':assigned': { S: 'assigned' }, ':provisioning': { S: 'provisioning' }, ':max': { N: String(n) },
    })],
    ['a condition with a value it does not use', 'dynalite/db/conditionParser', '#s = :a', { '#s': 'prov_status' }, (n) => ({ ':a': { S: `a${n}` }, ':unused': { N: '1' } })],
    ['an undefined name', 'dynalite/db/conditionParser', '#nope = :a', { '#s': 'prov_status' }, (n) => ({ ':a': { S: `a${n}` } })],
    ['a reserved word', 'dynalite/db/conditionParser', 'status = :a', {}, (n) => ({ ':a': { S: `a${n}` } })],
    ['a syntax error', 'dynalite/db/conditionParser', '#s = = :a', { '#s': 'prov_status' }, (n) => ({ ':a': { S: `a${n}` } })],
    ['begins_with on a number', 'dynalite/db/conditionParser', 'begins_with(#s, :a)', { '#s': 'prov_status' }, (n) => ({ ':a': { N: String(n) } })],
    ['BETWEEN, left to the parser', 'dynalite/db/conditionParser', 'n BETWEEN :lo AND :hi', {}, (n) => ({ ':lo': { N: String(n) }, ':hi': { N: '5' } })],
    ['nested paths', 'dynalite/db/conditionParser', 'a.b[1].c = :v AND size(d) > :w', {}, (n) => ({ ':v': { S: `v${n}` }, ':w': { N: '2' } })],
    ['the hook update', 'dynalite/db/updateParser', 'SET #s = :p, c = :c, n = if_not_exists(n, :zero) + :one REMOVE x', { '#s': 'prov_status' }, (n) => ({
      ':p': { S: 'provisioning' }, ':c': { S: `c${n}` }, ':zero': { N: '0' }, ':one': { N: '1' },
    })],
    ['ADD of a string', 'dynalite/db/updateParser', 'ADD n :v', {}, (n) => ({ ':v': { S: `s${n}` } })],
    ['a projection', 'dynalite/db/projectionParser', '#k, a.b, c[2]', { '#k': 'thing_name' }, () => ({})],
  ];

  it.each(cases)('answers %s as the parser does, with each request\'s own values', (_label, id, input, names, values) => {
    // Prepare
    const original = freshParser(id);
    const cached = cachingParse(freshParser(id).parse);
    const before = parseCacheStats();

    // Act: a first request fills the cache, two more with other values of the same types use it.
    const answers = [1, 2, 3].map((n) => ({
      cached: outcome(cached, input, context(names, values(n))),
      original: outcome(original.parse, input, context(names, values(n))),
    }));

    // Assess
    for (const { cached: got, original: expected } of answers) expect(got).toEqual(expected);
    const after = parseCacheStats();
    expect(after.hits + after.misses + after.uncached - before.hits - before.misses - before.uncached).toBe(3);
  });

  it('serves a repeated expression from the cache, and gives each request a tree of its own', () => {
    // Prepare
    const cached = cachingParse(freshParser('dynalite/db/conditionParser').parse);
    const values = (n: number) => ({ ':tid': { S: `t-${n}` }, ':region': { S: 'r' }, ':assigned': { S: 'a' }, ':provisioning': { S: 'p' }, ':max': { N: '3' } });
    const before = parseCacheStats();

    // Act
    const first = cached(HOOK_CONDITION, { context: context({ '#s': 'prov_status' }, values(1)) });
    const second = cached(HOOK_CONDITION, { context: context({ '#s': 'prov_status' }, values(2)) });
    const withAnotherType = cached(HOOK_CONDITION, { context: context({ '#s': 'prov_status' }, { ...values(3), ':max': { S: '3' } }) });

    // Assess
    const after = parseCacheStats();
    expect(after.misses - before.misses).toBe(2);
    expect(after.hits - before.hits).toBe(1);
    expect(second).not.toBe(first);
    expect(JSON.stringify(second)).toContain('t-2');
    expect(JSON.stringify(second)).not.toContain('t-1');
    expect(JSON.stringify(withAnotherType)).toContain('t-3');
  });
});

describe('dynalite with the cache, through the DynamoDB API', () => {
  let dynamo: LocalDynamo;
  let client: DynamoDBClient;
  const table = 'parse-cache';

  beforeAll(async () => {
    dynamo = await startDynalite();
    client = new DynamoDBClient({ region: 'us-east-1', endpoint: dynamo.endpoint, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    await client.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    for (const sk of [1, 2, 3]) await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'p' }, sk: { N: String(sk) }, s: { S: 'assigned' } } }));
  });

  afterAll(async () => {
    client?.destroy();
    await dynamo?.close();
  });

  const update = (input: Partial<UpdateItemCommandInput>) =>
    client.send(new UpdateItemCommand({ TableName: table, Key: { pk: { S: 'p' }, sk: { N: '1' } }, UpdateExpression: 'SET n = :n', ...input }));

  it('applies a cached condition to each request\'s values', async () => {
    // Prepare
    const condition = { ConditionExpression: '#s = :ok OR (#s = :other AND attribute_not_exists(x))', ExpressionAttributeNames: { '#s': 's' } };

    // Act
    await update({ ...condition, ExpressionAttributeValues: { ':n': { N: '1' }, ':ok': { S: 'assigned' }, ':other': { S: 'x' } } });
    const refused = update({ ...condition, ExpressionAttributeValues: { ':n': { N: '2' }, ':ok': { S: 'provisioned' }, ':other': { S: 'x' } } });

    // Assess
    await expect(refused).rejects.toThrow(/conditional request failed/);
  });

  it('still refuses a value the expression does not use, a value of the wrong type and an undefined name', async () => {
    // Prepare: the same expressions succeed first, so that they are cached.
    await update({ ConditionExpression: 'begins_with(s, :p)', ExpressionAttributeValues: { ':n': { N: '3' }, ':p': { S: 'ass' } } });

    // Act
    const unused = update({ ConditionExpression: 'begins_with(s, :p)', ExpressionAttributeValues: { ':n': { N: '3' }, ':p': { S: 'ass' }, ':extra': { S: 'e' } } });
    const wrongType = update({ ConditionExpression: 'begins_with(s, :p)', ExpressionAttributeValues: { ':n': { N: '3' }, ':p': { N: '4' } } });
    const undefinedName = update({ ConditionExpression: '#t = :p', ExpressionAttributeValues: { ':n': { N: '3' }, ':p': { S: 'a' } } });

    // Assess
    await expect(unused).rejects.toThrow(/unused in expressions: keys: \{:extra\}/);
    await expect(wrongType).rejects.toThrow(/Incorrect operand type for operator or function; operator or function: begins_with, operand type: N/);
    await expect(undefinedName).rejects.toThrow(/An expression attribute name used in the document path is not defined; attribute name: #t/);
  });

  it('answers a key condition dynalite rewrites in place the same way every time', async () => {
    // Act: operands reversed, which dynalite turns around in the parsed tree.
    const query = () =>
      client.send(
        new QueryCommand({ TableName: table, KeyConditionExpression: ':p = pk AND sk > :lo', ExpressionAttributeValues: { ':p': { S: 'p' }, ':lo': { N: '1' } } }),
      );
    const first = await query();
    const second = await query();

    // Assess
    expect(first.Items?.map((i) => i['sk']?.N)).toEqual(['2', '3']);
    expect(second.Items?.map((i) => i['sk']?.N)).toEqual(['2', '3']);
  });

  it('checks BETWEEN\'s bounds on every request', async () => {
    // Prepare
    const between = (lo: string, hi: string) =>
      client.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p AND sk BETWEEN :lo AND :hi', ExpressionAttributeValues: { ':p': { S: 'p' }, ':lo': { N: lo }, ':hi': { N: hi } } }));
    await between('1', '2');

    // Act
    const reversed = between('3', '1');

    // Assess
    await expect(reversed).rejects.toThrow(/upper bound to be greater than or equal to lower bound/);
  });
});
