import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startDynalite } from '@global-iot/local/dynamodb.js';

/**
 * DynamoDB's ReturnValuesOnConditionCheckFailure, which the local DynamoDB adds to dynalite: a
 * refused write carries the item as its condition saw it, when asked for, through the SDK.
 */

describe.each([
  ['on the caller\'s thread', false],
  ['on a thread of its own', true],
])('ReturnValuesOnConditionCheckFailure, dynalite %s', (_label, thread) => {
  let dynamo: LocalDynamo;
  let client: DynamoDBClient;
  const TableName = 'condition-failure';
  const Key = { k: { S: 'item-1' } };
  const stored = { ...Key, status: { S: 'assigned' }, n: { N: '1' } };
  const failing = { ConditionExpression: '#s = :want', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':want': { S: 'provisioned' } } };

  beforeAll(async () => {
    dynamo = await startDynalite({ thread });
    client = new DynamoDBClient({ region: 'us-east-1', endpoint: dynamo.endpoint, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    await client.send(
      new CreateTableCommand({ TableName, KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
    );
    await client.send(new PutItemCommand({ TableName, Item: stored }));
  });

  afterAll(async () => {
    client?.destroy();
    await dynamo?.close();
  });

  async function refusal(write: Promise<unknown>): Promise<ConditionalCheckFailedException> {
    const error = await write.then(() => undefined, (e: unknown) => e);
    if (!(error instanceof ConditionalCheckFailedException)) throw new Error(`expected a ConditionalCheckFailedException, got ${String(error)}`);
    return error;
  }

  it('returns the item with ALL_OLD on PutItem, UpdateItem and DeleteItem, and changes nothing', async () => {
    // Act
    const refusals = await Promise.all([
      refusal(client.send(new PutItemCommand({ TableName, Item: { ...Key, status: { S: 'x' } }, ...failing, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }))),
      refusal(client.send(new UpdateItemCommand({ TableName, Key, UpdateExpression: 'SET n = :n', ...failing, ExpressionAttributeValues: { ...failing.ExpressionAttributeValues, ':n': { N: '2' } }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }))),
      refusal(client.send(new DeleteItemCommand({ TableName, Key, ...failing, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }))),
    ]);

    // Assess
    for (const refused of refusals) expect(refused.Item).toEqual(stored);
    const after = await refusal(client.send(new PutItemCommand({ TableName, Item: stored, ...failing, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
    expect(after.Item).toEqual(stored);
  });

  it('returns no item without the parameter, with NONE, or when there is no item', async () => {
    // Act
    const without = await refusal(client.send(new DeleteItemCommand({ TableName, Key, ...failing })));
    const none = await refusal(client.send(new DeleteItemCommand({ TableName, Key, ...failing, ReturnValuesOnConditionCheckFailure: 'NONE' })));
    const missing = await refusal(
      client.send(new UpdateItemCommand({ TableName, Key: { k: { S: 'nobody' } }, UpdateExpression: 'SET n = :want', ConditionExpression: 'attribute_exists(k)', ExpressionAttributeValues: { ':want': { N: '1' } }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })),
    );

    // Assess
    expect([without.Item, none.Item, missing.Item]).toEqual([undefined, undefined, undefined]);
  });

  it('refuses a value outside the enumeration as DynamoDB does', async () => {
    // Act
    const attempt = client.send(new DeleteItemCommand({ TableName, Key, ...failing, ReturnValuesOnConditionCheckFailure: 'SOME' as 'NONE' }));

    // Assess
    await expect(attempt).rejects.toThrow(/Value 'SOME' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: \[ALL_OLD, NONE\]/);
  });
});
