import { CreateTableCommand, type DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { REGISTRY_KEY } from './schema.js';

/**
 * Creates the registry table where it does not exist (local cloud and tests; deployed, CDK
 * owns the table). On-demand billing, key `thing_name` (S), as the CDK stack defines it.
 */
export async function ensureRegistryTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [{ AttributeName: REGISTRY_KEY, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: REGISTRY_KEY, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}
