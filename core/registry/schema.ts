import * as z from 'zod';
import { thingNameSchema } from '../thing-name.js';

/**
 * The device registry: one DynamoDB table keyed by `thing_name` (S). Attribute names and the
 * values `unprovisioned` / `provisioned` of `prov_status` are the original sample's, so an
 * existing table keeps working; the other states make provisioning safe to retry:
 *
 *   unprovisioned -> assigned -> provisioning -> provisioned
 *   (any) <-> blocked, set and cleared by operators (unblock returns a device whose certificate it
 *   reactivated to where it was); reset returns to unprovisioned.
 */
export const PROV_STATUSES = ['unprovisioned', 'assigned', 'provisioning', 'provisioned', 'blocked'] as const;
export type ProvStatus = (typeof PROV_STATUSES)[number];

export const REGISTRY_KEY = 'thing_name';

/**
 * How the bootstrap chose the region of the current assignment: `measured` (the device's own
 * handshake times beat the model's region), `model` (the nearest by the region ranking, with or
 * without figures), `default` (location unknown), `pinned` (an operator's pin), `preferred` (the
 * device asked for a fallback), `resume` (kept in the region whose hook already let it through),
 * `overflow` (admission sent it on to a next candidate: its first region was at its ceiling).
 */
export const PLACEMENTS = ['measured', 'model', 'default', 'pinned', 'preferred', 'resume', 'overflow'] as const;
export type Placement = (typeof PLACEMENTS)[number];

const isoTime = z.string().min(1);
const regionCode = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region code');

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
  blocked_certificates: z
    .union([z.set(z.string()), z.array(z.string())])
    .transform((v) => [...v].sort())
    .optional(),
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
});
export type Enrollment = z.infer<typeof enrollmentSchema>;

/** Attributes in a canonical order, for comparing definitions. */
export function sortedEntries(attributes: Record<string, string> | undefined): string {
  return JSON.stringify(Object.entries(attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The definition an operator controls; status and history do not count. */
export function sameDefinition(record: Pick<DeviceRecord, 'public_key' | 'pinned_region' | 'attributes'>, enrollment: Enrollment): boolean {
  return (
    (record.public_key ?? '') === (enrollment.publicKey ?? '') &&
    (record.pinned_region ?? '') === (enrollment.pinnedRegion ?? '') &&
    sortedEntries(record.attributes) === sortedEntries(enrollment.attributes)
  );
}

