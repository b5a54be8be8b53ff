import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { throwAsDependencyError } from '../dynamo-errors.js';
import { ConditionFailed, MalformedRecord } from '../errors.js';
import { type DeviceRecord, deviceRecordSchema, REGISTRY_KEY } from './schema.js';

/**
 * What every registry write shares: the table, the clock, parsing a stored item, and one
 * conditional update that hands back either the record it wrote or the record that refused it.
 * The provisioning transitions (registry.ts) and the lifecycle ones (lifecycle.ts) are built on it.
 */

export interface RegistryTable {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Clock in ms since the epoch; injected so tests control time. */
  readonly now: () => number;
}

/** Errors a caller can act on: the condition failed, or DynamoDB is not answering. */
export function translate(error: unknown): never {
  if (error instanceof ConditionalCheckFailedException) {
    throw new ConditionFailed('registry record is not in the required state', { cause: error });
  }
  return throwAsDependencyError(error);
}

export function parseRecord(item: Record<string, AttributeValue>): DeviceRecord {
  const parsed = deviceRecordSchema.safeParse(unmarshall(item));
  if (!parsed.success) {
    const name = item[REGISTRY_KEY]?.S ?? '(no key)';
    throw new MalformedRecord(`registry record ${name} is malformed: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
  }
  return parsed.data;
}

/**
 * The record a refused conditional write carries back (`ReturnValuesOnConditionCheckFailure:
 * ALL_OLD`): the item exactly as the condition saw it, without a second request or its race.
 * Undefined when there is no item (or a store that predates the feature): the caller then reads.
 */
export function refusedRecord(error: ConditionalCheckFailedException): DeviceRecord | undefined {
  return error.Item ? parseRecord(error.Item) : undefined;
}

/** A conditional write's outcome: the record written, or the record that refused it (if known). */
export type WriteOutcome = { written: DeviceRecord } | { refused: DeviceRecord | undefined };

export function keyOf(thingName: string): Record<string, AttributeValue> {
  return { [REGISTRY_KEY]: { S: thingName } };
}

export function isoNow(table: Pick<RegistryTable, 'now'>): string {
  return new Date(table.now()).toISOString();
}

export interface ConditionalUpdate {
  readonly thingName: string;
  readonly update: string;
  readonly condition: string;
  readonly names?: Record<string, string>;
  readonly values: Record<string, AttributeValue>;
}

/** One conditional UpdateItem: ALL_NEW when it lands, ALL_OLD when its condition refuses it. */
export async function conditionalUpdate(table: RegistryTable, u: ConditionalUpdate): Promise<WriteOutcome> {
  try {
    const out = await table.client.send(
      new UpdateItemCommand({
        TableName: table.tableName,
        Key: keyOf(u.thingName),
        UpdateExpression: u.update,
        ConditionExpression: u.condition,
        ...(u.names && Object.keys(u.names).length > 0 ? { ExpressionAttributeNames: u.names } : {}),
        ExpressionAttributeValues: u.values,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    if (!out.Attributes) throw new ConditionFailed('the write returned no record');
    return { written: parseRecord(out.Attributes) };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return { refused: refusedRecord(error) };
    return translate(error);
  }
}
