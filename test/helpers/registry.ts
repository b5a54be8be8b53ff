import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeviceRegistry, ensureRegistryTable } from '@global-iot/core/registry/index.js';
import { type LocalDynamo, startDynalite } from '@global-iot/local/dynamodb.js';

export interface TestRegistry {
  dynamo: LocalDynamo;
  client: DynamoDBClient;
  tableName: string;
  registry: DeviceRegistry;
  /** Mutable clock for the registry (ms). */
  clock: { now: number };
  close(): Promise<void>;
}

/** dynalite on a free port with a fresh registry table; one per test file. */
export async function startTestRegistry(): Promise<TestRegistry> {
  const dynamo = await startDynalite();
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: dynamo.endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const tableName = `registry-${randomUUID().slice(0, 8)}`;
  await ensureRegistryTable(client, tableName);
  const clock = { now: Date.parse('2026-11-28T12:00:00Z') };
  const registry = new DeviceRegistry({ client, tableName, now: () => clock.now });
  return {
    dynamo,
    client,
    tableName,
    registry,
    clock,
    close: async () => {
      client.destroy();
      await dynamo.close();
    },
  };
}
