/**
 * What one DynamoDB call costs in CPU, SDK and local DynamoDB together (issue: device client and
 * npm start). Every provisioned device makes four: the bootstrap's read and write, the hook's
 * write, the confirmation's write. Consistent GetItem and conditional UpdateItem of a
 * registry-sized record through the client the local product uses, against dynalite on a thread
 * of its own, 20 in flight; CPU is the whole process's (client and dynalite), after a warm-up.
 *
 *   npx tsx bench/dynamodb.ts
 */
import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { ensureRegistryTable } from '@global-iot/core/registry/index.js';
import { localDynamoClient, startDynalite } from '@global-iot/local/dynamodb.js';
import { cpuMsSince, isMain, round } from './stats.js';

const CALLS = 2_000;
const IN_FLIGHT = 20;
const TABLE = 'bench-registry';

/** CPU per call over CALLS calls, IN_FLIGHT at a time. */
async function measure(call: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < CALLS) {
        const i = next;
        next += 1;
        await call(i);
      }
    }),
  );
  return round(cpuMsSince(before) / CALLS);
}

/** The same, after one whole run as warm-up: the SDK's code is cold for its first thousand calls. */
async function cpuPerCall(call: (i: number) => Promise<unknown>): Promise<number> {
  await measure(call);
  return measure(call);
}

export async function benchDynamodb(): Promise<Record<string, number>> {
  const dynamo = await startDynalite({ thread: true });
  const client = localDynamoClient(dynamo.endpoint, 'us-east-1');
  try {
    await ensureRegistryTable(client, TABLE);
    const key = (i: number) => ({ thing_name: { S: `bench-${i % 100}` } });
    for (let i = 0; i < 100; i++) {
      await client.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { ...key(i), prov_status: { S: 'assigned' }, public_key: { S: 'k'.repeat(180) }, aws_region: { S: 'eu-central-1' }, n: { N: '0' } },
        }),
      );
    }
    const get = await cpuPerCall((i) => client.send(new GetItemCommand({ TableName: TABLE, Key: key(i), ConsistentRead: true })));
    const update = await cpuPerCall((i) =>
      client.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: key(i),
          UpdateExpression: 'SET n = n + :one, updated_at = :at',
          ConditionExpression: '#s = :assigned AND aws_region = :region',
          ExpressionAttributeNames: { '#s': 'prov_status' },
          ExpressionAttributeValues: { ':one': { N: '1' }, ':at': { S: new Date().toISOString() }, ':assigned': { S: 'assigned' }, ':region': { S: 'eu-central-1' } },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return { 'dynamodb.get_item_cpu_ms_per_call': get, 'dynamodb.conditional_update_cpu_ms_per_call': update };
  } finally {
    client.destroy();
    await dynamo.close();
  }
}

if (isMain(import.meta.url)) {
  const results = await benchDynamodb();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(44)} ${v}`);
}
