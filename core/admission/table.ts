import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';

/**
 * The admission limiter's table: one item per region and second, keyed `<region>#<epoch s>`,
 * holding `attempts` (a counter) and `expires_at` (epoch s), and two per region keyed
 * `<region>#retry` and `<region>#release`, the ends of its lines (`tail_ms`, retry-queue.ts). A table of its own, not a key
 * space in the registry: `ops list` and exports scan the registry, and a counter is no device.
 * Deployed, the CDK stack owns it (on-demand, TTL on `expires_at`); locally this creates it.
 */
export const ADMISSION_KEY = 'pk';
export const ADMISSION_COUNT_ATTRIBUTE = 'attempts';
/** Enable DynamoDB's TTL on this attribute: the counters of past seconds are never read again. */
export const ADMISSION_TTL_ATTRIBUTE = 'expires_at';

/** The end of one of a region's lines (retry-queue.ts), epoch ms. */
export const ADMISSION_QUEUE_TAIL_ATTRIBUTE = 'tail_ms';

/** The key of one of a region's lines; never a counter's (a second is digits). */
export function admissionLineKey(region: string, line: 'retry' | 'release'): string {
  return `${region}#${line}`;
}

/** The key of a region's counter for one second (epoch seconds). */
export function admissionCounterKey(region: string, second: number): string {
  return `${region}#${second}`;
}

/** How often, and how long in all, `ensureAdmissionTable` asks whether a new table is active. */
const TABLE_POLL_MS = 20;
const TABLE_WAIT_MS = 10_000;

/**
 * Creates the table where it does not exist (local cloud and tests), and returns once it is
 * ACTIVE: CreateTable answers while the table is still CREATING, when a write to it fails.
 */
export async function ensureAdmissionTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await createTable(client, tableName);
  const deadline = Date.now() + TABLE_WAIT_MS;
  for (;;) {
    const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (described.Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} is not active after ${TABLE_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, TABLE_POLL_MS));
  }
}

async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
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
