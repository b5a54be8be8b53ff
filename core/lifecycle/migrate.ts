import { DescribeThingCommand, type IoTClient, UpdateThingCommand } from '@aws-sdk/client-iot';
import { GetThingShadowCommand, type IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import * as z from 'zod';
import { REGION_PARAM } from '../provisioning-params.js';
import { errorName } from './certificates.js';
import { withoutLifecycle } from './shadow-protocol.js';

/**
 * The `migrate` policy's copy, from the region a device leaves to the one it arrives in, made
 * before the move is switched (complete.ts) so that the device finds its data there: the thing's
 * attributes (merged into the new thing; the template's own `region` stays the new region's) and
 * its classic shadow's desired and reported state (without the reserved `iotProvisioning` key,
 * whose requests belong to the old region). Nothing in the old region is changed here.
 */

export interface MigrateDeps {
  readonly iot: (region: string) => IoTClient;
  readonly shadows: (region: string) => IoTDataPlaneClient;
}

export interface Migrated {
  /** How many attributes were carried over. */
  readonly attributes: number;
  /** Whether shadow state was carried over. */
  readonly shadow: boolean;
}

/** The attribute the product template sets from the hook's Region override. */
const TEMPLATE_REGION_ATTRIBUTE = REGION_PARAM.toLowerCase();

async function copyAttributes(deps: MigrateDeps, thingName: string, from: string, to: string): Promise<number> {
  let attributes: Record<string, string>;
  try {
    attributes = (await deps.iot(from).send(new DescribeThingCommand({ thingName }))).attributes ?? {};
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return 0;
    throw error;
  }
  const { [TEMPLATE_REGION_ATTRIBUTE]: _region, ...carried } = attributes;
  if (Object.keys(carried).length === 0) return 0;
  await deps.iot(to).send(new UpdateThingCommand({ thingName, attributePayload: { attributes: carried, merge: true } }));
  return Object.keys(carried).length;
}

const shadowDocumentSchema = z.object({ state: z.object({ desired: z.unknown().optional(), reported: z.unknown().optional() }).optional() });

async function copyShadow(deps: MigrateDeps, thingName: string, from: string, to: string): Promise<boolean> {
  let payload: Uint8Array | undefined;
  try {
    payload = (await deps.shadows(from).send(new GetThingShadowCommand({ thingName }))).payload;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return false;
    throw error;
  }
  const parsed = shadowDocumentSchema.safeParse(JSON.parse(Buffer.from(payload ?? new Uint8Array()).toString('utf8')));
  if (!parsed.success) return false;
  const desired = withoutLifecycle(parsed.data.state?.desired);
  const reported = withoutLifecycle(parsed.data.state?.reported);
  if (desired === undefined && reported === undefined) return false;
  const update = { state: { ...(desired ? { desired } : {}), ...(reported ? { reported } : {}) } };
  await deps.shadows(to).send(new UpdateThingShadowCommand({ thingName, payload: Buffer.from(JSON.stringify(update)) }));
  return true;
}

/** Copies what `migrate` carries; throws when a region does not answer (the caller retries). */
export async function migrateThingData(deps: MigrateDeps, thingName: string, from: string, to: string): Promise<Migrated> {
  const [attributes, shadow] = await Promise.all([copyAttributes(deps, thingName, from, to), copyShadow(deps, thingName, from, to)]);
  return { attributes, shadow };
}
