import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  bulkEnroll,
  type BulkEnrollReport,
  type DeviceRecord,
  DeviceRegistry,
  type Enrollment,
  type ProvStatus,
} from '@global-iot/core/registry/index.js';
import { NAME_RULES } from '@global-iot/core/template/aws-names.js';
import { isValidThingName } from '@global-iot/core/thing-name.js';
import type { EnrollInput, RowProblem } from './enroll-input.js';
import { OperationFailed, UsageError } from './errors.js';

/** The registry table the CLI works on. */
export interface RegistryTarget {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly now: () => number;
  /** The deployment's claim client-id prefix: enrolment refuses thing names that start with it. */
  readonly claimClientIdPrefix: string;
}

function registryOf(target: RegistryTarget): DeviceRegistry {
  return new DeviceRegistry({ client: target.client, tableName: target.tableName, now: target.now, claimClientIdPrefix: target.claimClientIdPrefix });
}

export interface EnrollReport {
  /** Rows refused by validation; none of them was written. */
  readonly invalid: readonly RowProblem[];
  /** Absent when validation refused the whole file (without `allowPartial`). */
  readonly result?: BulkEnrollReport;
}

/**
 * Enrols validated devices. Any invalid row stops the whole file before a write, unless the
 * operator allows a partial enrolment; re-running the same file reports the devices unchanged.
 */
export async function enrollDevices(
  target: RegistryTarget,
  input: EnrollInput,
  options: { dryRun?: boolean; allowPartial?: boolean; conditional?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<EnrollReport> {
  if (input.invalid.length > 0 && !options.allowPartial) return { invalid: input.invalid };
  const result = await bulkEnroll(input.valid, {
    client: target.client,
    tableName: target.tableName,
    now: target.now,
    dryRun: options.dryRun ?? false,
    conditional: options.conditional ?? false,
    claimClientIdPrefix: target.claimClientIdPrefix,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return { invalid: input.invalid, result };
}

/** One device from the command line: a conditional write, so no race window at all. */
export async function enrollOne(target: RegistryTarget, enrollment: Enrollment, options: { dryRun?: boolean } = {}): Promise<BulkEnrollReport> {
  return bulkEnroll([enrollment], {
    client: target.client,
    tableName: target.tableName,
    now: target.now,
    dryRun: options.dryRun ?? false,
    conditional: true,
    claimClientIdPrefix: target.claimClientIdPrefix,
  });
}

function requireThingName(thingName: string): void {
  if (!isValidThingName(thingName)) throw new UsageError(`"${thingName}" is not a thing name (${NAME_RULES.thingName.rule})`);
}

export async function deviceStatus(target: RegistryTarget, thingName: string): Promise<DeviceRecord> {
  requireThingName(thingName);
  const record = await registryOf(target).get(thingName);
  if (!record) throw new OperationFailed(`thing ${thingName} is not enrolled`);
  return record;
}

export interface DevicePage {
  readonly items: DeviceRecord[];
  /** Pass back as `nextToken` for the next page; absent on the last page. */
  readonly nextToken?: string;
}

export interface ListFilter {
  readonly status?: ProvStatus;
  readonly region?: string;
}

/** A page token is the last thing name of a page, so that it stays valid across runs. */
function encodeToken(thingName: string): string {
  return Buffer.from(thingName, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const thingName = Buffer.from(token, 'base64url').toString('utf8');
  if (!isValidThingName(thingName) || encodeToken(thingName) !== token) throw new UsageError('--next-token is not a token this command printed');
  return thingName;
}

/** Scans the registry (control items excluded) from a starting key, filtered by status and region. */
function scanFrom(target: RegistryTarget, filter: ListFilter, startAfter?: string): AsyncGenerator<DeviceRecord> {
  return registryOf(target).scan({ ...filter, pageSize: 1_000, ...(startAfter === undefined ? {} : { startAfter }) });
}

/** One page of devices. */
export async function listDevices(
  target: RegistryTarget,
  filter: ListFilter & { limit: number; nextToken?: string },
): Promise<DevicePage> {
  const startAfter = filter.nextToken === undefined ? undefined : decodeToken(filter.nextToken);
  const items: DeviceRecord[] = [];
  // Any item key is a valid ExclusiveStartKey, so a page may stop in the middle of a scan page
  // and the next one starts right after its last device.
  const scan = scanFrom(target, filter, startAfter);
  for await (const record of scan) {
    if (items.length === filter.limit) {
      const last = items[items.length - 1];
      await scan.return(undefined);
      return last ? { items, nextToken: encodeToken(last.thing_name) } : { items };
    }
    items.push(record);
  }
  return { items };
}

/** Every device (matching the filter), for `iot-ops export`. */
export function allDevices(target: RegistryTarget, filter: ListFilter = {}): AsyncGenerator<DeviceRecord> {
  return scanFrom(target, filter);
}
