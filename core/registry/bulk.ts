import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { DEFAULT_CLAIM_CLIENT_ID_PREFIX, ReservedThingName, reservedThingNameProblem } from '../claim-client-id.js';
import { ConditionFailed, DependencyThrottled, describeError, InvalidInput } from '../errors.js';
import { DeviceRegistry } from './registry.js';
import { type DefinitionFields, type DeviceRecord, type Enrollment, enrollmentSchema, REGISTRY_KEY, sameDefinition, sortedEntries } from './schema.js';

/**
 * Bulk enrolment: thousands of devices in seconds. A conditional PutItem per device costs a round
 * trip and an expression parse each (about 1.7 ms per device against dynalite, 17 s for 10,000),
 * so each chunk of 100 devices is read with one BatchGetItem and its absent devices written with
 * BatchWriteItem, 25 per call.
 *
 * BatchWriteItem takes no condition. Between a chunk's read and its write (milliseconds) another
 * writer could create one of its devices, and the batch put would then overwrite that record.
 * Only operator enrolment creates registry records: the bootstrap, the hook and every other
 * operator command update existing records under `attribute_exists`, so the window matters only
 * when two enrolments of the same thing run at the same moment. Operators enrol a batch once
 * (re-runs find the records and report them unchanged), so the window is accepted by default;
 * `conditional: true` closes it, writing absent devices with the registry's conditional PutItem.
 */

export type BulkOutcome = 'created' | 'unchanged' | 'conflict' | 'failed';
export const BULK_OUTCOMES: readonly BulkOutcome[] = ['created', 'unchanged', 'conflict', 'failed'];

export interface BulkItemResult {
  thingName: string;
  outcome: BulkOutcome;
  /** Why a device is a conflict or failed. */
  reason?: string;
}

export interface BulkEnrollReport {
  /** One result per enrolment, in input order. */
  results: BulkItemResult[];
  counts: Record<BulkOutcome, number>;
  /** Nothing was written; `created` means "would be created". */
  dryRun: boolean;
}

export interface BulkEnrollOptions {
  client: DynamoDBClient;
  tableName: string;
  now?: () => number;
  dryRun?: boolean;
  /** Close the read-to-write window with a conditional PutItem per absent device (slower). */
  conditional?: boolean;
  /** Chunks of 100 devices in flight at once. */
  concurrency?: number;
  /** Attempts for unprocessed keys and items before they are reported as failed. */
  maxAttempts?: number;
  /** Backoff wait; injected so tests need not sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** Called after each chunk with the number of devices decided so far. */
  onProgress?: (done: number, total: number) => void;
  /** Thing names starting with it are refused (core/claim-client-id.ts); default: the configuration's default. */
  claimClientIdPrefix?: string;
}

/** DynamoDB's limits per BatchGetItem and per BatchWriteItem call. */
export const BATCH_GET_LIMIT = 100;
export const BATCH_WRITE_LIMIT = 25;
const DEFAULT_CONCURRENCY = 8;
const DEFAULT_MAX_ATTEMPTS = 8;
const BACKOFF_BASE_MS = 25;
const BACKOFF_CAP_MS = 2_000;

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Full-jitter exponential backoff, so that parallel chunks do not retry in step. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
}

/** How a record differs from the enrolment, for the operator's report. */
function conflictReason(record: DefinitionFields, enrollment: Enrollment): string {
  const fields: string[] = [];
  if ((record.public_key ?? '') !== (enrollment.publicKey ?? '')) fields.push('public key');
  if ((record.pinned_region ?? '') !== (enrollment.pinnedRegion ?? '')) fields.push('pinned region');
  if (sortedEntries(record.attributes) !== sortedEntries(enrollment.attributes)) fields.push('attributes');
  if (enrollment.reprovisionPolicy !== undefined && record.reprovision_policy !== enrollment.reprovisionPolicy) fields.push('reprovisioning policy');
  return `already enrolled with a different ${fields.join(', ')}`;
}

function newRecord(enrollment: Enrollment, iso: string): DeviceRecord {
  return {
    thing_name: enrollment.thingName,
    prov_status: 'unprovisioned',
    ...(enrollment.publicKey ? { public_key: enrollment.publicKey } : {}),
    ...(enrollment.pinnedRegion ? { pinned_region: enrollment.pinnedRegion } : {}),
    ...(enrollment.attributes ? { attributes: enrollment.attributes } : {}),
    ...(enrollment.reprovisionPolicy ? { reprovision_policy: enrollment.reprovisionPolicy } : {}),
    enrolled_at: iso,
    updated_at: iso,
  };
}

/**
 * Validates every enrolment and refuses duplicates and reserved names before anything is read or
 * written.
 */
function validate(enrollments: readonly Enrollment[], claimClientIdPrefix: string): Enrollment[] {
  const seen = new Set<string>();
  return enrollments.map((input, index) => {
    const parsed = enrollmentSchema.safeParse(input);
    if (!parsed.success) {
      throw new InvalidInput(`enrolment ${index + 1}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    const reserved = reservedThingNameProblem(parsed.data.thingName, claimClientIdPrefix);
    if (reserved !== undefined) throw new ReservedThingName(`enrolment ${index + 1}: ${reserved}`);
    if (seen.has(parsed.data.thingName)) {
      throw new InvalidInput(`enrolment ${index + 1}: thing ${parsed.data.thingName} is listed twice`);
    }
    seen.add(parsed.data.thingName);
    return parsed.data;
  });
}

type Existing = Map<string, DefinitionFields>;

export async function bulkEnroll(enrollments: readonly Enrollment[], options: BulkEnrollOptions): Promise<BulkEnrollReport> {
  const claimClientIdPrefix = options.claimClientIdPrefix ?? DEFAULT_CLAIM_CLIENT_ID_PREFIX;
  const items = validate(enrollments, claimClientIdPrefix);
  const { client, tableName } = options;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const dryRun = options.dryRun ?? false;
  const registry = new DeviceRegistry({ client, tableName, now, claimClientIdPrefix });
  const results = new Map<string, BulkItemResult>();
  const record = (thingName: string, outcome: BulkOutcome, reason?: string): void => {
    results.set(thingName, reason === undefined ? { thingName, outcome } : { thingName, outcome, reason });
  };

  async function readExisting(chunk: Enrollment[]): Promise<Existing> {
    const existing: Existing = new Map();
    let keys: Record<string, AttributeValue>[] = chunk.map((e) => ({ [REGISTRY_KEY]: { S: e.thingName } }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt >= maxAttempts) throw new DependencyThrottled(`${keys.length} keys stayed unprocessed after ${maxAttempts} reads`);
      if (attempt > 0) await sleep(backoffMs(attempt));
      const out = await client.send(
        new BatchGetItemCommand({
          RequestItems: {
            [tableName]: {
              Keys: keys,
              ConsistentRead: true,
              ProjectionExpression: '#k, #pk, #pr, #a, #rp',
              // `attributes` is a DynamoDB reserved word.
              ExpressionAttributeNames: { '#k': REGISTRY_KEY, '#pk': 'public_key', '#pr': 'pinned_region', '#a': 'attributes', '#rp': 'reprovision_policy' },
            },
          },
        }),
      );
      for (const item of out.Responses?.[tableName] ?? []) {
        const found = unmarshall(item) as DefinitionFields & Pick<DeviceRecord, 'thing_name'>;
        existing.set(found.thing_name, found);
      }
      keys = out.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
    return existing;
  }

  /** Writes up to 25 records, retrying what DynamoDB leaves unprocessed; returns what never landed. */
  async function writeBatch(batch: Enrollment[], iso: string): Promise<Set<string>> {
    let requests: WriteRequest[] = batch.map((e) => ({
      PutRequest: { Item: marshall(newRecord(e, iso), { removeUndefinedValues: true }) },
    }));
    for (let attempt = 0; requests.length > 0 && attempt < maxAttempts; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }));
      requests = out.UnprocessedItems?.[tableName] ?? [];
    }
    const left = new Set<string>();
    for (const request of requests) {
      const name = request.PutRequest?.Item?.[REGISTRY_KEY]?.S;
      if (name !== undefined) left.add(name);
    }
    return left;
  }

  async function writeConditionally(absent: Enrollment[]): Promise<void> {
    // The registry's own enrol: a conditional put, then a read to tell unchanged from conflict.
    for (const enrollment of absent) {
      try {
        record(enrollment.thingName, await registry.enroll(enrollment));
      } catch (error) {
        if (error instanceof ConditionFailed) record(enrollment.thingName, 'conflict', 'already enrolled with a different definition');
        else record(enrollment.thingName, 'failed', describeError(error));
      }
    }
  }

  async function processChunk(chunk: Enrollment[]): Promise<void> {
    let existing: Existing;
    try {
      existing = await readExisting(chunk);
    } catch (error) {
      for (const e of chunk) record(e.thingName, 'failed', describeError(error));
      return;
    }
    const absent: Enrollment[] = [];
    for (const e of chunk) {
      const found = existing.get(e.thingName);
      if (!found) absent.push(e);
      else if (sameDefinition(found, e)) record(e.thingName, 'unchanged');
      else record(e.thingName, 'conflict', conflictReason(found, e));
    }
    if (dryRun) {
      for (const e of absent) record(e.thingName, 'created');
      return;
    }
    if (options.conditional) {
      await writeConditionally(absent);
      return;
    }
    const iso = new Date(now()).toISOString();
    for (let i = 0; i < absent.length; i += BATCH_WRITE_LIMIT) {
      const batch = absent.slice(i, i + BATCH_WRITE_LIMIT);
      try {
        const left = await writeBatch(batch, iso);
        for (const e of batch) {
          if (left.has(e.thingName)) record(e.thingName, 'failed', `unprocessed after ${maxAttempts} attempts`);
          else record(e.thingName, 'created');
        }
      } catch (error) {
        // Part of a failed batch may have landed; a re-run reports those as unchanged.
        for (const e of batch) record(e.thingName, 'failed', describeError(error));
      }
    }
  }

  const chunks: Enrollment[][] = [];
  for (let i = 0; i < items.length; i += BATCH_GET_LIMIT) chunks.push(items.slice(i, i + BATCH_GET_LIMIT));
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < chunks.length; index = next++) {
      const chunk = chunks[index] ?? [];
      await processChunk(chunk);
      done += chunk.length;
      options.onProgress?.(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY) }, worker));

  const counts: Record<BulkOutcome, number> = { created: 0, unchanged: 0, conflict: 0, failed: 0 };
  const ordered = items.map((e) => {
    const result = results.get(e.thingName) ?? { thingName: e.thingName, outcome: 'failed' as const, reason: 'not processed' };
    counts[result.outcome]++;
    return result;
  });
  return { results: ordered, counts, dryRun };
}
