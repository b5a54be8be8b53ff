import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { ConditionFailed } from '../errors.js';
import { conditionalUpdate, isoNow, type RegistryTable } from './records.js';
import { type DeviceRecord, type HistoryEntry, NEAREST, type ReprovisionPolicy } from './schema.js';

/**
 * The registry's transitions after the first boot: reprovisioning policy, moves and certificate
 * rotation (README, "After the first boot"). Each is one conditional write; a refused write
 * carries the record back, from which the same request repeated gets the same answer and any
 * other a named reason. Nothing here talks to AWS IoT: the caller does that around the write.
 */

/** Why a lifecycle request was refused; nothing was changed. */
export type LifecycleRefusal =
  | 'unknown-thing'
  | 'not-provisioned'
  | 'blocked'
  | 'policy-never'
  | 'move-in-flight'
  | 'rotation-in-flight'
  | 'same-region';

export class LifecycleRefused extends ConditionFailed {
  override name = 'LifecycleRefused';
  constructor(
    readonly reason: LifecycleRefusal,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface LifecycleDefaults {
  /** The policy of a record that names none (`lifecycle.reprovisionPolicy`). */
  readonly defaultPolicy: ReprovisionPolicy;
  /** How many finished moves and rotations `history` keeps (`lifecycle.historyLimit`). */
  readonly historyLimit: number;
}

/** The policy that applies to a record. */
export function policyOf(record: Pick<DeviceRecord, 'reprovision_policy'>, defaults: Pick<LifecycleDefaults, 'defaultPolicy'>): ReprovisionPolicy {
  return record.reprovision_policy ?? defaults.defaultPolicy;
}

/** The reason a device that is not in `expected` cannot take the request. */
function stateRefusal(thingName: string, record: DeviceRecord | undefined): LifecycleRefused {
  if (!record) return new LifecycleRefused('unknown-thing', `thing ${thingName} is not enrolled`);
  if (record.prov_status === 'blocked') return new LifecycleRefused('blocked', `thing ${thingName} is blocked`);
  if (record.prov_status === 'moving') {
    return new LifecycleRefused('move-in-flight', `thing ${thingName} is already moving (to ${record.move_to ?? '?'}, requested ${record.move_requested_at ?? '?'})`);
  }
  return new LifecycleRefused('not-provisioned', `thing ${thingName} is ${record.prov_status}, not provisioned`);
}

// Policy

export async function setPolicy(table: RegistryTable, thingName: string, policy: ReprovisionPolicy): Promise<DeviceRecord> {
  const values: Record<string, AttributeValue> = { ':p': { S: policy }, ':at': { S: isoNow(table) } };
  let condition = 'attribute_exists(#k)';
  if (policy === 'never') {
    // A move already under way finishes first: `never` would strand it half done.
    values[':moving'] = { S: 'moving' };
    condition += ' AND #s <> :moving';
  }
  const outcome = await conditionalUpdate(table, {
    thingName,
    update: 'SET reprovision_policy = :p, updated_at = :at',
    condition,
    names: { '#k': 'thing_name', ...(policy === 'never' ? { '#s': 'prov_status' } : {}) },
    values,
  });
  if ('written' in outcome) return outcome.written;
  throw stateRefusal(thingName, outcome.refused);
}

// Moves

export interface MoveRequest {
  readonly thingName: string;
  /** A region, or `nearest`. */
  readonly to: string;
  readonly reason: string;
  /** The request's id (the shadow carries it to the device). */
  readonly moveId: string;
}

export interface MoveRequested {
  /** `unchanged`: the same move was already asked (its id is the record's `move_id`). */
  readonly outcome: 'requested' | 'unchanged';
  readonly record: DeviceRecord;
}

/**
 * provisioned -> moving. Refused for a device that is not provisioned, is blocked, may not move
 * (policy `never`), is rotating, or is asked to move to the region it is in; a device already
 * moving to the same target answers `unchanged` (so a re-run of `ops move` only asks the device
 * again), to another target `move-in-flight`. The move's assignment fields of an earlier move
 * are cleared, so that no old ticket or certificate can be taken for this one.
 */
export async function requestMove(table: RegistryTable, defaults: LifecycleDefaults, m: MoveRequest): Promise<MoveRequested> {
  const at = isoNow(table);
  const values: Record<string, AttributeValue> = {
    ':moving': { S: 'moving' },
    ':provisioned': { S: 'provisioned' },
    ':to': { S: m.to },
    ':why': { S: m.reason },
    ':at': { S: at },
    ':mid': { S: m.moveId },
    ':never': { S: 'never' },
  };
  const policy =
    defaults.defaultPolicy === 'never' ? 'reprovision_policy IN (:reset, :migrate)' : '(attribute_not_exists(reprovision_policy) OR reprovision_policy <> :never)';
  if (defaults.defaultPolicy === 'never') {
    values[':reset'] = { S: 'reset' };
    values[':migrate'] = { S: 'migrate' };
    delete values[':never'];
  }
  const conditions = ['#s = :provisioned', 'attribute_not_exists(rotation_certificate_id)', policy];
  if (m.to !== NEAREST) {
    values[':target'] = { S: m.to };
    conditions.push('aws_region <> :target');
  }
  const outcome = await conditionalUpdate(table, {
    thingName: m.thingName,
    update:
      'SET #s = :moving, move_to = :to, move_reason = :why, move_requested_at = :at, move_id = :mid, updated_at = :at ' +
      'REMOVE move_region, move_certificate_id, ticket_id, ticket_expires_at, hook_ticket_id, provision_attempts',
    condition: conditions.join(' AND '),
    names: { '#s': 'prov_status' },
    values,
  });
  if ('written' in outcome) return { outcome: 'requested', record: outcome.written };
  const record = outcome.refused;
  if (record?.prov_status === 'moving' && (record.move_id === m.moveId || record.move_to === m.to)) return { outcome: 'unchanged', record };
  if (record?.prov_status === 'provisioned') {
    if (record.rotation_certificate_id !== undefined) {
      throw new LifecycleRefused('rotation-in-flight', `thing ${m.thingName} is rotating its certificate; move it once the rotation is done`);
    }
    if (policyOf(record, defaults) === 'never') throw new LifecycleRefused('policy-never', `thing ${m.thingName} has reprovisioning policy never: it may not be moved`);
    if (record.aws_region === m.to) throw new LifecycleRefused('same-region', `thing ${m.thingName} is already in ${m.to}`);
  }
  throw stateRefusal(m.thingName, record);
}

export interface MoveHookAttempt {
  readonly thingName: string;
  readonly region: string;
  readonly ticketId: string;
  readonly certificateId: string;
  readonly maxAttempts: number;
}

/**
 * The hook's write for a moving device: the certificate allowed in the move's region, under the
 * same rules as a first provisioning (the live ticket; a retry with a newer one, up to the limit).
 */
export async function beginMoveProvisioning(
  table: RegistryTable,
  h: MoveHookAttempt,
): Promise<{ allowed: true; record: DeviceRecord; repeated: boolean } | { allowed: false; reason: string }> {
  const at = isoNow(table);
  const outcome = await conditionalUpdate(table, {
    thingName: h.thingName,
    update:
      'SET move_certificate_id = :cert, hook_ticket_id = :tid, provisioning_at = :at, updated_at = :at, ' +
      'provision_attempts = if_not_exists(provision_attempts, :zero) + :one',
    condition:
      '#s = :moving AND ticket_id = :tid AND move_region = :region AND ' +
      '(attribute_not_exists(hook_ticket_id) OR hook_ticket_id <> :tid) AND ' +
      '(attribute_not_exists(provision_attempts) OR provision_attempts < :max)',
    names: { '#s': 'prov_status' },
    values: {
      ':moving': { S: 'moving' },
      ':cert': { S: h.certificateId },
      ':tid': { S: h.ticketId },
      ':region': { S: h.region },
      ':at': { S: at },
      ':zero': { N: '0' },
      ':one': { N: '1' },
      ':max': { N: String(h.maxAttempts) },
    },
  });
  if ('written' in outcome) return { allowed: true, record: outcome.written, repeated: false };
  const record = outcome.refused;
  if (!record) return { allowed: false, reason: 'unknown thing' };
  if (
    record.prov_status === 'moving' &&
    record.move_certificate_id === h.certificateId &&
    record.hook_ticket_id === h.ticketId &&
    record.move_region === h.region
  ) {
    return { allowed: true, record, repeated: true };
  }
  return { allowed: false, reason: moveHookRefusal(record, h) };
}

function moveHookRefusal(record: DeviceRecord, h: MoveHookAttempt): string {
  if (record.prov_status !== 'moving') return `status is ${record.prov_status}`;
  if (record.move_region !== h.region) return 'the move is assigned to another region';
  if (record.ticket_id !== h.ticketId) return 'ticket is not the live assignment';
  if (record.hook_ticket_id === h.ticketId) return 'ticket already used for another certificate';
  return 'retry limit reached';
}

/** Appends a finished move or rotation, keeping the newest `limit`. */
export function appendHistory(history: readonly HistoryEntry[] | undefined, entry: HistoryEntry, limit: number): HistoryEntry[] {
  return [...(history ?? []), entry].slice(-limit);
}

/** The condition that the record still has the history the caller read: two completions never both land. */
function historyGuard(record: DeviceRecord, values: Record<string, AttributeValue>): string {
  if (record.history === undefined) return 'attribute_not_exists(history)';
  values[':hlen'] = { N: String(record.history.length) };
  return 'size(history) = :hlen';
}

/** What a completion leaves for the clean-up (core/lifecycle/retire.ts). */
export function retireRef(region: string): string {
  return `retire/${region}`;
}
export function keepRef(region: string, certificateId: string): string {
  return `keep/${region}/${certificateId}`;
}

/**
 * moving -> provisioned in the move's region, with the certificate the device confirmed there:
 * the record now names the new region and certificate, the move joins `history`, and the old
 * region (every certificate of the thing there, the thing, its shadow) and any other certificate
 * of the thing in the new region go into `cleanup_pending`. `record` is what the caller read; the
 * write lands only if the move is still that one.
 */
export async function completeMove(
  table: RegistryTable,
  defaults: LifecycleDefaults,
  record: DeviceRecord,
  confirmed: { certificateId: string; region: string },
): Promise<DeviceRecord> {
  const at = isoNow(table);
  const from = record.aws_region ?? confirmed.region;
  const entry: HistoryEntry = {
    kind: 'move',
    from,
    to: confirmed.region,
    at: record.move_requested_at ?? at,
    why: record.move_reason ?? 'move',
    completedAt: at,
    ...(record.certificate_id ? { fromCertificate: record.certificate_id } : {}),
    toCertificate: confirmed.certificateId,
  };
  const values: Record<string, AttributeValue> = {
    ':provisioned': { S: 'provisioned' },
    ':moving': { S: 'moving' },
    ':region': { S: confirmed.region },
    ':cert': { S: confirmed.certificateId },
    ':mid': { S: record.move_id ?? '' },
    ':at': { S: at },
    ':history': { L: appendHistory(record.history, entry, defaults.historyLimit).map((e) => ({ M: marshall(e) })) },
    ':cleanup': { SS: [...new Set([retireRef(from), keepRef(confirmed.region, confirmed.certificateId)])] },
  };
  const outcome = await conditionalUpdate(table, {
    thingName: record.thing_name,
    update:
      'SET #s = :provisioned, aws_region = :region, certificate_id = :cert, prov_datetime = :at, updated_at = :at, history = :history ' +
      'ADD cleanup_pending :cleanup ' +
      'REMOVE move_to, move_reason, move_requested_at, move_id, move_region, move_certificate_id',
    condition: `#s = :moving AND move_id = :mid AND move_region = :region AND move_certificate_id = :cert AND ${historyGuard(record, values)}`,
    names: { '#s': 'prov_status' },
    values,
  });
  if ('written' in outcome) return outcome.written;
  throw new ConditionFailed(`the move of ${record.thing_name} changed while it was being completed`);
}

// Rotation

export interface RotationRequested {
  /** `unchanged`: a rotation was already asked (its id is the record's `rotation_id`). */
  readonly outcome: 'requested' | 'unchanged';
  readonly record: DeviceRecord;
}

/** An operator's request to rotate (`ops rotate`): a provisioned device only; a second request keeps the first. */
export async function requestRotation(table: RegistryTable, thingName: string, rotationId: string): Promise<RotationRequested> {
  const at = isoNow(table);
  const outcome = await conditionalUpdate(table, {
    thingName,
    update: 'SET rotation_id = :rid, rotation_requested_at = :at, updated_at = :at',
    condition: '#s = :provisioned AND attribute_not_exists(rotation_id)',
    names: { '#s': 'prov_status' },
    values: { ':provisioned': { S: 'provisioned' }, ':rid': { S: rotationId }, ':at': { S: at } },
  });
  if ('written' in outcome) return { outcome: 'requested', record: outcome.written };
  const record = outcome.refused;
  if (record?.prov_status === 'provisioned' && record.rotation_id !== undefined) return { outcome: 'unchanged', record };
  throw stateRefusal(thingName, record);
}

export interface RotationHookAttempt {
  readonly thingName: string;
  readonly region: string;
  /** The certificate the RegisterThing came over (the hook event's `claimCertificateId`). */
  readonly currentCertificateId: string;
  /** The new certificate. */
  readonly certificateId: string;
  readonly maxAttempts: number;
}

/**
 * The rotation hook's write: the new certificate is allowed only for the same thing, over its
 * current certificate, in its region, while it is provisioned; at most `maxAttempts` new
 * certificates per rotation. The same request repeated is allowed again.
 */
export async function beginRotation(
  table: RegistryTable,
  r: RotationHookAttempt,
): Promise<{ allowed: true; record: DeviceRecord; repeated: boolean } | { allowed: false; reason: string }> {
  const at = isoNow(table);
  const outcome = await conditionalUpdate(table, {
    thingName: r.thingName,
    update:
      'SET rotation_certificate_id = :new, rotation_started_at = :at, updated_at = :at, ' +
      'rotation_attempts = if_not_exists(rotation_attempts, :zero) + :one',
    condition:
      '#s = :provisioned AND aws_region = :region AND certificate_id = :current AND ' +
      '(attribute_not_exists(rotation_certificate_id) OR rotation_certificate_id <> :new) AND ' +
      '(attribute_not_exists(rotation_attempts) OR rotation_attempts < :max)',
    names: { '#s': 'prov_status' },
    values: {
      ':provisioned': { S: 'provisioned' },
      ':region': { S: r.region },
      ':current': { S: r.currentCertificateId },
      ':new': { S: r.certificateId },
      ':at': { S: at },
      ':zero': { N: '0' },
      ':one': { N: '1' },
      ':max': { N: String(r.maxAttempts) },
    },
  });
  if ('written' in outcome) return { allowed: true, record: outcome.written, repeated: false };
  const record = outcome.refused;
  if (!record) return { allowed: false, reason: 'unknown thing' };
  if (record.prov_status !== 'provisioned') return { allowed: false, reason: `status is ${record.prov_status}` };
  if (record.aws_region !== r.region) return { allowed: false, reason: 'the thing is in another region' };
  if (record.certificate_id !== r.currentCertificateId) return { allowed: false, reason: "the request did not come over the thing's current certificate" };
  if (record.rotation_certificate_id === r.certificateId) return { allowed: true, record, repeated: true };
  return { allowed: false, reason: 'rotation retry limit reached' };
}

/**
 * The device confirmed with the rotation's certificate: it becomes the thing's certificate, the
 * rotation joins `history`, and every other certificate of the thing in the region goes into
 * `cleanup_pending`.
 */
export async function completeRotation(
  table: RegistryTable,
  defaults: LifecycleDefaults,
  record: DeviceRecord,
  confirmed: { certificateId: string; region: string },
): Promise<DeviceRecord> {
  const at = isoNow(table);
  const entry: HistoryEntry = {
    kind: 'rotation',
    from: confirmed.region,
    to: confirmed.region,
    at: record.rotation_requested_at ?? record.rotation_started_at ?? at,
    why: record.rotation_id !== undefined ? 'rotation asked by an operator' : 'rotation started by the device',
    completedAt: at,
    ...(record.certificate_id ? { fromCertificate: record.certificate_id } : {}),
    toCertificate: confirmed.certificateId,
  };
  const values: Record<string, AttributeValue> = {
    ':provisioned': { S: 'provisioned' },
    ':region': { S: confirmed.region },
    ':cert': { S: confirmed.certificateId },
    ':old': { S: record.certificate_id ?? '' },
    ':at': { S: at },
    ':history': { L: appendHistory(record.history, entry, defaults.historyLimit).map((e) => ({ M: marshall(e) })) },
    ':cleanup': { SS: [keepRef(confirmed.region, confirmed.certificateId)] },
  };
  const outcome = await conditionalUpdate(table, {
    thingName: record.thing_name,
    update:
      'SET certificate_id = :cert, rotated_at = :at, updated_at = :at, history = :history ADD cleanup_pending :cleanup ' +
      'REMOVE rotation_certificate_id, rotation_started_at, rotation_attempts, rotation_id, rotation_requested_at',
    condition: `#s = :provisioned AND aws_region = :region AND rotation_certificate_id = :cert AND certificate_id = :old AND ${historyGuard(record, values)}`,
    names: { '#s': 'prov_status' },
    values,
  });
  if ('written' in outcome) return outcome.written;
  throw new ConditionFailed(`the rotation of ${record.thing_name} changed while it was being completed`);
}

/** Removes clean-up entries that are done. */
export async function cleanupDone(table: RegistryTable, thingName: string, refs: readonly string[]): Promise<DeviceRecord | undefined> {
  if (refs.length === 0) return undefined;
  const outcome = await conditionalUpdate(table, {
    thingName,
    update: 'DELETE cleanup_pending :refs SET updated_at = :at',
    condition: 'attribute_exists(#k)',
    names: { '#k': 'thing_name' },
    values: { ':refs': { SS: [...refs] }, ':at': { S: isoNow(table) } },
  });
  return 'written' in outcome ? outcome.written : undefined;
}
