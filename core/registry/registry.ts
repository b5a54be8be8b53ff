import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  ScanCommand,
  type ScanCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { assertEnrollableThingName, DEFAULT_CLAIM_CLIENT_ID_PREFIX } from '../claim-client-id.js';
import { ConditionFailed } from '../errors.js';
import {
  beginMoveProvisioning,
  beginRotation,
  cleanupDone,
  completeMove,
  completeRotation,
  type LifecycleDefaults,
  type MoveRequest,
  type MoveRequested,
  requestMove,
  requestRotation,
  type RotationHookAttempt,
  type RotationRequested,
  setPolicy,
} from './lifecycle.js';
import { parseRecord, type RegistryTable, refusedRecord, translate, type WriteOutcome } from './records.js';
import {
  type DeviceRecord,
  type Enrollment,
  enrollmentSchema,
  type Placement,
  type ProvStatus,
  REGISTRY_KEY,
  type ReprovisionPolicy,
  sameDefinition,
} from './schema.js';

export interface RegistryDeps {
  client: DynamoDBClient;
  tableName: string;
  /** Clock in ms since the epoch; injected so tests control time. */
  now?: () => number;
  /**
   * The deployment's claim client-id prefix: enrolment refuses thing names that start with it
   * (core/claim-client-id.ts). Default: the configuration's default.
   */
  claimClientIdPrefix?: string;
  /** The deployment's lifecycle settings the registry applies (default: the configuration's defaults). */
  lifecycle?: Partial<LifecycleDefaults>;
}

/** The configuration's defaults (core/config.ts `lifecycle`), for a registry built without them. */
const DEFAULT_LIFECYCLE: LifecycleDefaults = { defaultPolicy: 'migrate', historyLimit: 20 };

export interface Assignment {
  thingName: string;
  /**
   * The status the caller read; the write only lands if it is still the status. A `moving`
   * device's assignment is the move's (`move_region`): its `aws_region` stays where it runs.
   */
  expectedStatus: 'unprovisioned' | 'assigned' | 'provisioning' | 'moving';
  region: string;
  /** Timestamp of the signed request; absent for legacy (unsigned-time) requests. */
  requestTs?: number;
  sourceIp?: string;
  country?: string;
  ticketId: string;
  ticketExpiresAt: number;
  /** How the region was chosen; recorded as `placement`. */
  placement?: Placement;
  /**
   * The handshake times (ms, by region) the request carried, recorded as `rtt_ms`; an
   * assignment without them removes the figures of an earlier one, so the record always shows
   * what its current region was chosen on.
   */
  rttMs?: Readonly<Record<string, number>>;
}

export interface HookAttempt {
  thingName: string;
  region: string;
  ticketId: string;
  certificateId: string;
  /** How many allowed hook calls a device gets in all (first attempt plus retries). */
  maxAttempts: number;
}

export type HookOutcome =
  | { allowed: true; record: DeviceRecord; repeated: boolean }
  | { allowed: false; reason: string };

/**
 * What a confirmation (a device's first publish with a certificate) means for the record:
 * `provisioned` (a first provisioning, now written), `repeated` (the certificate already is the
 * device's, here: nothing to do), `move` or `rotation` (the certificate a move or a rotation is
 * waiting for: the caller completes it, core/lifecycle/complete.ts), `refused` (anything else).
 */
export type Confirmation =
  | { kind: 'provisioned' }
  | { kind: 'repeated'; record: DeviceRecord }
  | { kind: 'move'; record: DeviceRecord }
  | { kind: 'rotation'; record: DeviceRecord }
  | { kind: 'refused'; record?: DeviceRecord };

const CONTROL_REGIONS_KEY = '#control:regions';

function isSameHookAttempt(record: DeviceRecord, h: HookAttempt): boolean {
  return (
    record.prov_status === 'provisioning' &&
    record.certificate_id === h.certificateId &&
    record.hook_ticket_id === h.ticketId &&
    record.aws_region === h.region
  );
}

/**
 * The device registry. Every write is conditional: a transition only lands from the state the
 * caller expects, so concurrent requests can never leave two live assignments or two allowed
 * certificates.
 */
export class DeviceRegistry {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly now: () => number;
  private readonly claimClientIdPrefix: string;
  readonly lifecycle: LifecycleDefaults;

  constructor(deps: RegistryDeps) {
    this.client = deps.client;
    this.tableName = deps.tableName;
    this.now = deps.now ?? Date.now;
    this.claimClientIdPrefix = deps.claimClientIdPrefix ?? DEFAULT_CLAIM_CLIENT_ID_PREFIX;
    this.lifecycle = { ...DEFAULT_LIFECYCLE, ...deps.lifecycle };
  }

  private get table(): RegistryTable {
    return { client: this.client, tableName: this.tableName, now: this.now };
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private key(thingName: string): Record<string, AttributeValue> {
    return { [REGISTRY_KEY]: { S: thingName } };
  }

  async get(thingName: string, consistent = true): Promise<DeviceRecord | undefined> {
    try {
      const out = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: this.key(thingName), ConsistentRead: consistent }),
      );
      return out.Item ? parseRecord(out.Item) : undefined;
    } catch (error) {
      return translate(error);
    }
  }

  /**
   * Enrols a device as `unprovisioned`. Re-enrolling the same definition is a no-op
   * ('unchanged'); a different definition for an existing thing is refused, and so is a thing name
   * reserved for claim sessions (ReservedThingName).
   */
  async enroll(input: Enrollment): Promise<'created' | 'unchanged'> {
    const enrollment = enrollmentSchema.parse(input);
    assertEnrollableThingName(enrollment.thingName, this.claimClientIdPrefix);
    const record: DeviceRecord = {
      thing_name: enrollment.thingName,
      prov_status: 'unprovisioned',
      ...(enrollment.publicKey ? { public_key: enrollment.publicKey } : {}),
      ...(enrollment.pinnedRegion ? { pinned_region: enrollment.pinnedRegion } : {}),
      ...(enrollment.attributes ? { attributes: enrollment.attributes } : {}),
      ...(enrollment.reprovisionPolicy ? { reprovision_policy: enrollment.reprovisionPolicy } : {}),
      enrolled_at: this.iso(),
      updated_at: this.iso(),
    };
    let existing: DeviceRecord | undefined;
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(record, { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(#k)',
          ExpressionAttributeNames: { '#k': REGISTRY_KEY },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'created';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) return translate(error);
      existing = refusedRecord(error);
    }
    existing ??= await this.get(enrollment.thingName);
    if (existing && sameDefinition(existing, enrollment)) return 'unchanged';
    throw new ConditionFailed(`thing ${enrollment.thingName} is already enrolled with a different definition`);
  }

  /**
   * Records the bootstrap's region assignment and the ticket it issued, in one conditional
   * update: the record must still have the status the caller read, and the request's timestamp
   * must be newer than the last accepted one (replay protection without a nonce table).
   * A device already `provisioning` stays in its region: the thing may already exist there.
   */
  async assign(a: Assignment): Promise<DeviceRecord> {
    const names: Record<string, string> = { '#s': 'prov_status', '#k': REGISTRY_KEY };
    const moving = a.expectedStatus === 'moving';
    const values: Record<string, AttributeValue> = {
      ':expected': { S: a.expectedStatus },
      ':next': { S: a.expectedStatus === 'provisioning' || moving ? a.expectedStatus : 'assigned' },
      ':region': { S: a.region },
      ':at': { S: this.iso() },
      ':tid': { S: a.ticketId },
      ':texp': { N: String(a.ticketExpiresAt) },
      ':zero': { N: '0' },
      ':one': { N: '1' },
    };
    const sets = [
      '#s = :next',
      moving ? 'move_region = :region' : 'aws_region = :region',
      'assigned_at = :at',
      'updated_at = :at',
      'ticket_id = :tid',
      'ticket_expires_at = :texp',
      'assign_attempts = if_not_exists(assign_attempts, :zero) + :one',
    ];
    const conditions = ['attribute_exists(#k)', '#s = :expected'];
    if (a.expectedStatus === 'provisioning') conditions.push('aws_region = :region');
    // A move the hook already let through stays in its region, as a first provisioning does.
    if (moving) conditions.push('attribute_exists(move_id)', '(attribute_not_exists(move_certificate_id) OR move_region = :region)');
    if (a.requestTs !== undefined) {
      values[':ts'] = { N: String(a.requestTs) };
      sets.push('last_request_ts = :ts');
      conditions.push('(attribute_not_exists(last_request_ts) OR last_request_ts < :ts)');
    }
    if (a.sourceIp !== undefined) {
      values[':ip'] = { S: a.sourceIp };
      sets.push('source_ip = :ip');
    }
    if (a.country !== undefined) {
      values[':country'] = { S: a.country };
      sets.push('country = :country');
    }
    if (a.placement !== undefined) {
      values[':placement'] = { S: a.placement };
      sets.push('placement = :placement');
    }
    const removes: string[] = [];
    if (a.rttMs !== undefined && Object.keys(a.rttMs).length > 0) {
      values[':rtt'] = { M: Object.fromEntries(Object.entries(a.rttMs).map(([region, ms]) => [region, { N: String(ms) }])) };
      sets.push('rtt_ms = :rtt');
    } else {
      removes.push('rtt_ms');
    }
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(a.thingName),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (!out.Attributes) throw new ConditionFailed('assignment returned no record');
      return parseRecord(out.Attributes);
    } catch (error) {
      return translate(error);
    }
  }

  /**
   * The pre-provisioning hook's transition to `provisioning`, recording certificate, region and
   * time in one conditional write whose condition covers every case the hook may allow: from
   * `assigned` with the live ticket, or from `provisioning` in the same region with a newer
   * ticket (a retry after a failed RegisterThing or lost credentials), up to `maxAttempts` in
   * all. The write goes first, without a read: it is on every device's path, and a round trip
   * fewer keeps the hook well inside IoT's 5 s even when the registry is in another region. A
   * refused write carries the record back, from which the same call repeated (same certificate
   * and ticket: an MQTT redelivery, or an SDK retry of a write whose answer was lost) gets the
   * same answer, and a denial its reason.
   */
  async beginProvisioning(h: HookAttempt): Promise<HookOutcome> {
    const outcome = await this.writeHookAttempt(h);
    if ('written' in outcome) return { allowed: true, record: outcome.written, repeated: false };
    const record = outcome.refused ?? (await this.get(h.thingName));
    if (!record) return { allowed: false, reason: 'unknown thing' };
    if (isSameHookAttempt(record, h)) return { allowed: true, record, repeated: true };
    // A moving device's certificate is the move's: a second write, for moves only (they are rare).
    if (record.prov_status === 'moving') return beginMoveProvisioning(this.table, h);
    // A record that now passes every check changed after the write was refused (a reset and a
    // new assignment): the device retries with what the bootstrap then says.
    return { allowed: false, reason: this.hookRefusal(record, h) ?? 'registry changed concurrently' };
  }

  /** The hook's conditional write. */
  private async writeHookAttempt(h: HookAttempt): Promise<WriteOutcome> {
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(h.thingName),
          UpdateExpression:
            'SET #s = :provisioning, certificate_id = :cert, hook_ticket_id = :tid, provisioning_at = :at, ' +
            'updated_at = :at, provision_attempts = if_not_exists(provision_attempts, :zero) + :one',
          ConditionExpression:
            'ticket_id = :tid AND aws_region = :region AND (#s = :assigned OR (#s = :provisioning AND ' +
            '(attribute_not_exists(hook_ticket_id) OR hook_ticket_id <> :tid) AND ' +
            '(attribute_not_exists(provision_attempts) OR provision_attempts < :max)))',
          ExpressionAttributeNames: { '#s': 'prov_status' },
          ExpressionAttributeValues: {
            ':assigned': { S: 'assigned' },
            ':provisioning': { S: 'provisioning' },
            ':cert': { S: h.certificateId },
            ':tid': { S: h.ticketId },
            ':region': { S: h.region },
            ':at': { S: this.iso() },
            ':zero': { N: '0' },
            ':one': { N: '1' },
            ':max': { N: String(h.maxAttempts) },
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      if (!out.Attributes) throw new ConditionFailed('the hook write returned no record');
      return { written: parseRecord(out.Attributes) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { refused: refusedRecord(error) };
      return translate(error);
    }
  }

  private hookRefusal(record: DeviceRecord, h: HookAttempt): string | undefined {
    if (record.prov_status !== 'assigned' && record.prov_status !== 'provisioning') {
      return `status is ${record.prov_status}`;
    }
    if (record.aws_region !== h.region) return 'assigned to another region';
    if (record.ticket_id !== h.ticketId) return 'ticket is not the live assignment';
    if (record.prov_status === 'provisioning') {
      if (record.hook_ticket_id === h.ticketId) return 'ticket already used for another certificate';
      if ((record.provision_attempts ?? 0) >= h.maxAttempts) return 'retry limit reached';
    }
    return undefined;
  }

  /**
   * Marks the device provisioned when it confirms with the certificate the hook allowed.
   * Returns false (and changes nothing) for any other certificate or state; repeating a
   * confirmation that already landed returns true. One conditional write: a refused one carries
   * the record back, so a repeated confirmation costs no read.
   */
  async confirm(thingName: string, certificateId: string, region: string): Promise<boolean> {
    const outcome = await this.confirmation(thingName, certificateId, region);
    return outcome.kind === 'provisioned' || outcome.kind === 'repeated';
  }

  /**
   * A device's first publish with `certificateId` in `region` (the confirmation rule): a first
   * provisioning is confirmed here (`confirm`); a move's or a rotation's certificate is handed back
   * for the caller to complete, since a move copies data before it switches (core/lifecycle/).
   */
  async confirmation(thingName: string, certificateId: string, region: string): Promise<Confirmation> {
    let record: DeviceRecord | undefined;
    try {
      await this.client.send(this.confirmCommand(thingName, certificateId, region));
      return { kind: 'provisioned' };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) return translate(error);
      record = refusedRecord(error);
    }
    record ??= await this.get(thingName);
    if (!record) return { kind: 'refused' };
    if (record.prov_status === 'provisioned' && record.aws_region === region) {
      if (record.certificate_id === certificateId) return { kind: 'repeated', record };
      if (record.rotation_certificate_id === certificateId) return { kind: 'rotation', record };
    }
    if (record.prov_status === 'moving' && record.move_region === region && record.move_certificate_id === certificateId) {
      return { kind: 'move', record };
    }
    return { kind: 'refused', record };
  }

  private confirmCommand(thingName: string, certificateId: string, region: string): UpdateItemCommand {
    return new UpdateItemCommand({
      TableName: this.tableName,
      Key: this.key(thingName),
      UpdateExpression: 'SET #s = :provisioned, prov_datetime = :at, updated_at = :at',
      ConditionExpression: '#s = :provisioning AND certificate_id = :cert AND aws_region = :region',
      ExpressionAttributeNames: { '#s': 'prov_status' },
      ExpressionAttributeValues: {
        ':provisioned': { S: 'provisioned' },
        ':provisioning': { S: 'provisioning' },
        ':cert': { S: certificateId },
        ':region': { S: region },
        ':at': { S: this.iso() },
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  }

  /** The deployment's reprovisioning policy for one device (`ops policy`, registry/lifecycle.ts). */
  setPolicy(thingName: string, policy: ReprovisionPolicy): Promise<DeviceRecord> {
    return setPolicy(this.table, thingName, policy);
  }

  /** provisioned -> moving (`ops move`); see registry/lifecycle.ts. */
  requestMove(request: MoveRequest): Promise<MoveRequested> {
    return requestMove(this.table, this.lifecycle, request);
  }

  /** An operator's request to rotate (`ops rotate`). */
  requestRotation(thingName: string, rotationId: string): Promise<RotationRequested> {
    return requestRotation(this.table, thingName, rotationId);
  }

  /** The rotation hook's transition. */
  beginRotation(attempt: RotationHookAttempt): ReturnType<typeof beginRotation> {
    return beginRotation(this.table, attempt);
  }

  completeMove(record: DeviceRecord, confirmed: { certificateId: string; region: string }): Promise<DeviceRecord> {
    return completeMove(this.table, this.lifecycle, record, confirmed);
  }

  completeRotation(record: DeviceRecord, confirmed: { certificateId: string; region: string }): Promise<DeviceRecord> {
    return completeRotation(this.table, this.lifecycle, record, confirmed);
  }

  /** Removes `cleanup_pending` entries that are done. */
  cleanupDone(thingName: string, refs: readonly string[]): Promise<DeviceRecord | undefined> {
    return cleanupDone(this.table, thingName, refs);
  }

  /**
   * Operator reset to `unprovisioned`, with the reason recorded. The assignment and certificate
   * are cleared; `last_request_ts` is kept so that old captured requests stay refused. A blocked
   * device is refused (unblock it instead), so a block that races a reset is never undone, unless
   * `fromBlocked`: the caller has revoked every certificate of the device first (`reset --revoke`).
   */
  async reset(thingName: string, reason: string, options: { fromBlocked?: boolean } = {}): Promise<DeviceRecord> {
    return this.setStatus(
      thingName,
      'unprovisioned',
      reason,
      [
        'aws_region',
        'assigned_at',
        'ticket_id',
        'ticket_expires_at',
        'certificate_id',
        'hook_ticket_id',
        'provision_attempts',
        'provisioning_at',
        'prov_datetime',
        'assign_attempts',
        'blocked_from',
        'blocked_certificates',
        'placement',
        'rtt_ms',
        'move_to',
        'move_reason',
        'move_requested_at',
        'move_id',
        'move_region',
        'move_certificate_id',
        'rotation_id',
        'rotation_requested_at',
        'rotation_certificate_id',
        'rotation_started_at',
        'rotation_attempts',
      ],
      options.fromBlocked ? {} : { notFrom: 'blocked' },
    );
  }

  /**
   * Blocks the device: the bootstrap and the hook refuse it from now on. The status it had is kept
   * in `blocked_from` (a repeated block keeps the first one).
   */
  async block(thingName: string, reason: string): Promise<DeviceRecord> {
    return this.setStatus(thingName, 'blocked', reason, [], {}, ['blocked_from = if_not_exists(blocked_from, #s)']);
  }

  /**
   * Adds the certificates a block deactivated (`<region>/<certificate id>`) to the record, while
   * the device is still blocked, so that unblock reactivates exactly these.
   */
  async recordBlockedCertificates(thingName: string, certificates: readonly string[]): Promise<void> {
    if (certificates.length === 0) return;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(thingName),
          UpdateExpression: 'ADD blocked_certificates :certs SET updated_at = :at',
          ConditionExpression: '#s = :blocked',
          ExpressionAttributeNames: { '#s': 'prov_status' },
          ExpressionAttributeValues: { ':certs': { SS: [...certificates] }, ':blocked': { S: 'blocked' }, ':at': { S: this.iso() } },
        }),
      );
    } catch (error) {
      return translate(error);
    }
  }

  /**
   * Unblocking: back to `to` (the caller decides: where the device was when its certificates are
   * active again, else `unprovisioned`, where it must bootstrap again), the block's bookkeeping
   * removed. Only a blocked device can be unblocked.
   */
  async unblock(thingName: string, reason: string, to: 'unprovisioned' | 'provisioning' | 'provisioned' | 'moving' = 'unprovisioned'): Promise<DeviceRecord> {
    return this.setStatus(thingName, to, reason, ['blocked_from', 'blocked_certificates'], { from: 'blocked' });
  }

  private async setStatus(
    thingName: string,
    status: ProvStatus,
    reason: string,
    remove: string[],
    guard: { from?: ProvStatus; notFrom?: ProvStatus } = {},
    extraSets: readonly string[] = [],
  ): Promise<DeviceRecord> {
    const values: Record<string, AttributeValue> = {
      ':status': { S: status },
      ':reason': { S: reason },
      ':at': { S: this.iso() },
    };
    let condition = 'attribute_exists(#k)';
    if (guard.from) {
      values[':from'] = { S: guard.from };
      condition += ' AND #s = :from';
    }
    if (guard.notFrom) {
      values[':notFrom'] = { S: guard.notFrom };
      condition += ' AND #s <> :notFrom';
    }
    const removal = remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : '';
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(thingName),
          // Extra SETs first: `if_not_exists(x, #s)` reads the status the item had before this write.
          UpdateExpression: `SET ${[...extraSets, '#s = :status', 'status_reason = :reason', 'updated_at = :at'].join(', ')}${removal}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#s': 'prov_status', '#k': REGISTRY_KEY },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (!out.Attributes) throw new ConditionFailed('status change returned no record');
      return parseRecord(out.Attributes);
    } catch (error) {
      return translate(error);
    }
  }

  /**
   * Pages through device records, optionally filtered by status and region, from the start or
   * right after the thing `startAfter` (any key is a valid ExclusiveStartKey).
   */
  async *scan(
    filter: { status?: ProvStatus; region?: string; pageSize?: number; startAfter?: string } = {},
  ): AsyncGenerator<DeviceRecord> {
    // Control items share the table under keys no thing name can have (they start with '#').
    const filters: string[] = ['NOT begins_with(#k, :control)'];
    const names: Record<string, string> = { '#k': REGISTRY_KEY };
    const values: Record<string, AttributeValue> = { ':control': { S: '#' } };
    if (filter.status) {
      names['#s'] = 'prov_status';
      values[':status'] = { S: filter.status };
      filters.push('#s = :status');
    }
    if (filter.region) {
      values[':region'] = { S: filter.region };
      filters.push('aws_region = :region');
    }
    let start: Record<string, AttributeValue> | undefined =
      filter.startAfter === undefined ? undefined : this.key(filter.startAfter);
    do {
      const input: ScanCommandInput = {
        TableName: this.tableName,
        FilterExpression: filters.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        Limit: filter.pageSize ?? 500,
        ExclusiveStartKey: start,
      };
      let out;
      try {
        out = await this.client.send(new ScanCommand(input));
      } catch (error) {
        return translate(error);
      }
      for (const item of out.Items ?? []) yield parseRecord(item);
      start = out.LastEvaluatedKey;
    } while (start);
  }

  /**
   * Deletes a record (operators' throwaway devices, `iot-ops verify`); true when there was one.
   * Nothing else deletes: devices are reset or blocked, and their history kept.
   */
  async remove(thingName: string): Promise<boolean> {
    try {
      const out = await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: this.key(thingName), ReturnValues: 'ALL_OLD' }));
      return out.Attributes !== undefined;
    } catch (error) {
      return translate(error);
    }
  }

  /** Regions operators marked as draining; the bootstrap sends no new devices there. */
  async getDrainingRegions(): Promise<string[]> {
    try {
      const out = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: this.key(CONTROL_REGIONS_KEY), ConsistentRead: true }),
      );
      const draining = out.Item?.['draining']?.SS;
      return draining ? [...draining].sort() : [];
    } catch (error) {
      return translate(error);
    }
  }

  async setRegionDraining(region: string, draining: boolean): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(CONTROL_REGIONS_KEY),
          UpdateExpression: `${draining ? 'ADD' : 'DELETE'} draining :r SET updated_at = :at`,
          ExpressionAttributeValues: { ':r': { SS: [region] }, ':at': { S: this.iso() } },
        }),
      );
    } catch (error) {
      return translate(error);
    }
  }
}
