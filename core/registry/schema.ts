import * as z from 'zod';
import { thingNameSchema } from '../thing-name.js';

/**
 * The device registry: one DynamoDB table keyed by `thing_name` (S). Attribute names and the
 * values `unprovisioned` / `provisioned` of `prov_status` are the original sample's, so an
 * existing table keeps working; the other states make provisioning safe to retry:
 *
 *   unprovisioned -> assigned -> provisioning -> provisioned
 *   provisioned -> moving -> provisioned (in another region; registry/lifecycle.ts)
 *   (any) <-> blocked, set and cleared by operators (unblock returns a device whose certificate it
 *   reactivated to where it was); reset returns to unprovisioned.
 */
export const PROV_STATUSES = ['unprovisioned', 'assigned', 'provisioning', 'provisioned', 'moving', 'blocked'] as const;
export type ProvStatus = (typeof PROV_STATUSES)[number];

export const REGISTRY_KEY = 'thing_name';

/**
 * How the bootstrap chose the region of the current assignment: `measured` (the device's own
 * handshake times beat the model's region), `model` (the nearest by the region ranking, with or
 * without figures), `default` (location unknown), `pinned` (an operator's pin), `preferred` (the
 * device asked for a fallback), `resume` (kept in the region whose hook already let it through),
 * `overflow` (admission sent it on to a next candidate: its first region was at its ceiling),
 * `moved` (an operator's move: its target, or the nearest region other than the one it leaves).
 */
export const PLACEMENTS = ['measured', 'model', 'default', 'pinned', 'preferred', 'resume', 'overflow', 'moved'] as const;
export type Placement = (typeof PLACEMENTS)[number];

/**
 * What a move does with the device's data: `migrate` carries the thing's attributes and its
 * classic shadow's desired and reported state to the new region, `reset` provisions it afresh
 * there, `never` refuses to move it. A record without one follows the deployment's default.
 */
export const REPROVISION_POLICIES = ['never', 'reset', 'migrate'] as const;
export type ReprovisionPolicy = (typeof REPROVISION_POLICIES)[number];

/** A move's target as an operator asked it: a region, or `nearest` by the region policy when the device asks. */
export const NEAREST = 'nearest';

const isoTime = z.string().min(1);
const regionCode = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region code');
const certificateId = z.string().regex(/^[0-9a-f]{64}$/, 'not a certificate id');

/** One finished move or rotation, as `history` keeps it. */
export const historyEntrySchema = z.object({
  kind: z.enum(['move', 'rotation']),
  /** Regions: where the device was and where it is (the same for a rotation). */
  from: regionCode,
  to: regionCode,
  /** When it was asked (a rotation the device started itself: when the hook allowed it). */
  at: isoTime,
  /** The operator's reason, or what started it. */
  why: z.string(),
  completedAt: isoTime,
  fromCertificate: certificateId.optional(),
  toCertificate: certificateId.optional(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

const stringSet = z
  .union([z.set(z.string()), z.array(z.string())])
  .transform((v) => [...v].sort());

export const deviceRecordSchema = z.object({
  thing_name: thingNameSchema,
  prov_status: z.enum(PROV_STATUSES),
  /** PEM SubjectPublicKeyInfo of the device's own signing key; wins over the fleet keys. */
  public_key: z.string().optional(),
  /** A region an operator pinned this device to. */
  pinned_region: regionCode.optional(),
  attributes: z.record(z.string(), z.string()).optional(),
  /** Timestamp (ms) of the last accepted signed bootstrap request: replay protection. */
  last_request_ts: z.number().int().optional(),
  /** The region the device is assigned to or provisioned in (the sample's name). */
  aws_region: regionCode.optional(),
  assigned_at: isoTime.optional(),
  ticket_id: z.string().optional(),
  ticket_expires_at: z.number().int().optional(),
  source_ip: z.string().optional(),
  country: z.string().optional(),
  assign_attempts: z.number().int().nonnegative().optional(),
  /** How the current assignment's region was chosen. */
  placement: z.enum(PLACEMENTS).optional(),
  /** The handshake times (ms) the device measured for the current assignment, by region. */
  rtt_ms: z.record(regionCode, z.number().nonnegative()).optional(),
  /** Certificate the pre-provisioning hook allowed. */
  certificate_id: z.string().optional(),
  /** Ticket that the allowed hook call presented; a retry must present a newer one. */
  hook_ticket_id: z.string().optional(),
  provision_attempts: z.number().int().nonnegative().optional(),
  provisioning_at: isoTime.optional(),
  /** When the device first connected with its new certificate (the sample's name). */
  prov_datetime: isoTime.optional(),
  status_reason: z.string().optional(),
  /** While blocked: the status the device had when it was blocked (unblock returns to it when it can). */
  blocked_from: z.enum(PROV_STATUSES).optional(),
  /**
   * While blocked: the certificates the block deactivated, as `<region>/<certificate id>` (a
   * DynamoDB string set, so a repeated block adds to it); unblock reactivates exactly these.
   */
  blocked_certificates: stringSet.optional(),
  /** The device's own reprovisioning policy; absent: the deployment's `lifecycle.reprovisionPolicy`. */
  reprovision_policy: z.enum(REPROVISION_POLICIES).optional(),
  // A move in flight (status `moving`). Until it completes, `aws_region` and `certificate_id`
  // stay the region and certificate the device runs on.
  /** The target an operator asked for: a region, or `nearest`. */
  move_to: z.union([regionCode, z.literal(NEAREST)]).optional(),
  move_reason: z.string().optional(),
  move_requested_at: isoTime.optional(),
  /** The request's id, as the shadow carries it: the same request repeated is recognised. */
  move_id: z.string().optional(),
  /** The region the bootstrap assigned for the move (its ticket is `ticket_id`). */
  move_region: regionCode.optional(),
  /** The certificate the hook in `move_region` allowed. */
  move_certificate_id: certificateId.optional(),
  // A rotation in flight (status stays `provisioned`).
  /** An operator's request (`ops rotate`), as the shadow carries it. */
  rotation_id: z.string().optional(),
  rotation_requested_at: isoTime.optional(),
  /** The certificate the rotation hook allowed; the device confirms with it. */
  rotation_certificate_id: certificateId.optional(),
  rotation_started_at: isoTime.optional(),
  rotation_attempts: z.number().int().nonnegative().optional(),
  rotated_at: isoTime.optional(),
  /** Finished moves and rotations, oldest first, at most `lifecycle.historyLimit`. */
  history: z.array(historyEntrySchema).optional(),
  /**
   * What a completed move or rotation still has to undo in AWS IoT (core/lifecycle/retire.ts):
   * `retire/<region>` (every certificate of the thing there revoked, the thing and its shadow
   * deleted) and `keep/<region>/<certificate id>` (every other certificate there revoked).
   */
  cleanup_pending: stringSet.optional(),
  enrolled_at: isoTime.optional(),
  updated_at: isoTime.optional(),
});
export type DeviceRecord = z.infer<typeof deviceRecordSchema>;

/** What an operator supplies to enrol a device. */
export const enrollmentSchema = z.object({
  thingName: thingNameSchema,
  publicKey: z.string().max(4096).optional(),
  pinnedRegion: regionCode.optional(),
  attributes: z.record(z.string().max(128), z.string().max(800)).optional(),
  reprovisionPolicy: z.enum(REPROVISION_POLICIES).optional(),
});
export type Enrollment = z.infer<typeof enrollmentSchema>;

/** Attributes in a canonical order, for comparing definitions. */
export function sortedEntries(attributes: Record<string, string> | undefined): string {
  return JSON.stringify(Object.entries(attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The fields enrolment compares. */
export type DefinitionFields = Pick<DeviceRecord, 'public_key' | 'pinned_region' | 'attributes' | 'reprovision_policy'>;

/**
 * The definition an operator controls; status and history do not count. The policy counts only
 * when the enrolment names one: `ops policy` may have set it since, and enrolling the same list
 * again must not turn that into a conflict.
 */
export function sameDefinition(record: DefinitionFields, enrollment: Enrollment): boolean {
  return (
    (record.public_key ?? '') === (enrollment.publicKey ?? '') &&
    (record.pinned_region ?? '') === (enrollment.pinnedRegion ?? '') &&
    sortedEntries(record.attributes) === sortedEntries(enrollment.attributes) &&
    (enrollment.reprovisionPolicy === undefined || record.reprovision_policy === enrollment.reprovisionPolicy)
  );
}

