import * as z from 'zod';
import { InvalidInput } from './errors.js';

/**
 * Claim sessions use MQTT client ids of their own: `<prefix><thing name>`. The claim policy
 * allows iot:Connect only on client ids with the prefix, and no thing may be enrolled under a
 * name that starts with it, so the fleet's shared claim certificate can never take a provisioned
 * device's client id (AWS IoT closes the older of two connections with one client id).
 */

/** The prefix when the configuration names none. */
export const DEFAULT_CLAIM_CLIENT_ID_PREFIX = 'prov-';

/** AWS IoT: a client id is at most 128 bytes. */
export const MAX_CLIENT_ID_BYTES = 128;

/**
 * Characters of thing names only: the prefix goes into policy ARNs (where `*`, `?` and `$` mean
 * something) and must never be a prefix of a client id that is not a claim session's.
 */
export const claimClientIdPrefixSchema = z
  .string()
  .regex(/^[a-zA-Z0-9:_-]{1,32}$/, 'the claim client id prefix is 1 to 32 characters of [a-zA-Z0-9:_-]');

/** A thing name that can never be enrolled under this prefix. */
export class ReservedThingName extends InvalidInput {
  override name = 'ReservedThingName';
}

/** The client id a device's claim session uses. */
export function claimClientId(prefix: string, thingName: string): string {
  return `${prefix}${thingName}`;
}

/**
 * Why a thing name cannot be enrolled with this prefix, or undefined when it can: it starts with
 * the prefix (its client id would be a claim session's), or the prefix and the name together are
 * longer than a client id may be.
 */
export function reservedThingNameProblem(thingName: string, prefix: string): string | undefined {
  if (thingName.startsWith(prefix)) return `thing names starting with "${prefix}" are reserved for claim sessions (claimClientIdPrefix)`;
  const bytes = Buffer.byteLength(claimClientId(prefix, thingName), 'utf8');
  if (bytes > MAX_CLIENT_ID_BYTES) {
    return `with the claim client id prefix "${prefix}" the thing name may have at most ${MAX_CLIENT_ID_BYTES - prefix.length} characters`;
  }
  return undefined;
}

/** Throws ReservedThingName for a name enrolment must refuse. */
export function assertEnrollableThingName(thingName: string, prefix: string): void {
  const problem = reservedThingNameProblem(thingName, prefix);
  if (problem !== undefined) throw new ReservedThingName(`thing ${thingName}: ${problem}`);
}
