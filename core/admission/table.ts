import { CreateTableCommand, type DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';

/**
 * The admission limiter's table: one item per region and second, keyed `<region>#<epoch s>`,
 * holding `attempts` (a counter) and `expires_at` (epoch s). A table of its own, not a key
 * space in the registry: `ops list` and exports scan the registry, and a counter is no device.
 * Deployed, the CDK stack owns it (on-demand, TTL on `expires_at`); locally this creates it.
 */
export const ADMISSION_KEY = 'pk';
export const ADMISSION_COUNT_ATTRIBUTE = 'attempts';
/** Enable DynamoDB's TTL on this attribute: the counters of past seconds are never read again. */
export const ADMISSION_TTL_ATTRIBUTE = 'expires_at';

/** The key of a region's counter for one second (epoch seconds). */
export function admissionCounterKey(region: string, second: number): string {
  return `${region}#${second}`;
}

/** Creates the table where it does not exist (local cloud and tests). */
export async function ensureAdmissionTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [{ AttributeName: ADMISSION_KEY, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: ADMISSION_KEY, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}
