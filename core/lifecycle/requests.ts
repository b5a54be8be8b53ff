import { randomUUID } from 'node:crypto';
import { type IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import type { DeploymentConfig } from '../config.js';
import { describeError, InvalidInput } from '../errors.js';
import { isIotRegion } from '../regions.js';
import { type DeviceRecord, type DeviceRegistry, LifecycleRefused, NEAREST, policyOf } from '../registry/index.js';
import { moveRequestUpdate, rotateRequestUpdate } from './shadow-protocol.js';

/**
 * An operator's requests: move a device (`iot-ops move`, `regions drain --migrate`) or rotate its
 * certificate (`iot-ops rotate`). The target is checked first, against the deployment's policy
 * and the device's record; then the registry takes the request (one conditional write, refused
 * with a named reason and nothing changed); then the request goes into the device's shadow in the
 * region it runs in, where the device reads it. A request whose shadow write failed stays in the
 * registry; asking again (the same target) writes the shadow again.
 */

/** The target of a move cannot be used for this device; nothing was changed. */
export class MoveTargetRefused extends InvalidInput {
  override name = 'MoveTargetRefused';
  constructor(
    readonly reason: 'unknown-region' | 'not-enabled' | 'draining' | 'residency' | 'no-other-region',
    message: string,
  ) {
    super(message);
  }
}

export interface RequestDeps {
  readonly registry: DeviceRegistry;
  readonly config: Pick<DeploymentConfig, 'regions' | 'draining' | 'residency'>;
  /** Regions drained at run time (`ops regions drain`). */
  readonly drainingRegions: () => Promise<readonly string[]>;
  readonly shadows: (region: string) => IoTDataPlaneClient;
  readonly now: () => number;
  /** Request ids (default: random). */
  readonly newId?: (kind: 'm' | 'r') => string;
}

export interface Asked {
  readonly thingName: string;
  /** `would`: a dry run; `unchanged`: the same request was already in flight (the shadow is written again). */
  readonly outcome: 'requested' | 'unchanged' | 'would';
  /** The region the device runs in, whose shadow carries the request. */
  readonly region?: string;
  readonly id?: string;
  /** Whether the device's shadow now carries the request. */
  readonly shadow: 'written' | 'failed' | 'skipped';
  readonly error?: string;
}

const newRequestId = (kind: 'm' | 'r'): string => `${kind}-${randomUUID()}`;

/** Where a move to `to` could go for this device now, or the reason it cannot. */
export async function checkMoveTarget(deps: Pick<RequestDeps, 'config' | 'drainingRegions'>, record: DeviceRecord, to: string): Promise<void> {
  const { config } = deps;
  const draining = new Set([...config.draining, ...(await deps.drainingRegions())]);
  const residency = record.country !== undefined ? config.residency[record.country] : undefined;
  const usable = (region: string): boolean => config.regions.includes(region) && !draining.has(region) && (residency === undefined || residency.includes(region));
  if (to === NEAREST) {
    if (!config.regions.some((region) => region !== record.aws_region && usable(region))) {
      throw new MoveTargetRefused('no-other-region', `no region other than ${record.aws_region ?? '?'} can take ${record.thing_name} now (enabled, not draining${residency ? `, residency ${record.country ?? ''}: ${residency.join(', ')}` : ''})`);
    }
    return;
  }
  if (!isIotRegion(to)) throw new MoveTargetRefused('unknown-region', `${to} is not an AWS region with AWS IoT Core`);
  if (!config.regions.includes(to)) throw new MoveTargetRefused('not-enabled', `${to} is not an enabled region (enabled: ${config.regions.join(', ')})`);
  if (draining.has(to)) throw new MoveTargetRefused('draining', `${to} is draining: it takes no devices`);
  if (residency !== undefined && !residency.includes(to)) {
    throw new MoveTargetRefused('residency', `${record.thing_name} is in ${record.country ?? '?'}, whose devices may only use ${residency.join(', ')}`);
  }
}

async function writeShadow(deps: RequestDeps, region: string | undefined, thingName: string, payload: string): Promise<Pick<Asked, 'shadow' | 'error'>> {
  if (region === undefined) return { shadow: 'failed', error: 'the record names no region' };
  try {
    await deps.shadows(region).send(new UpdateThingShadowCommand({ thingName, payload: Buffer.from(payload) }));
    return { shadow: 'written' };
  } catch (error) {
    return { shadow: 'failed', error: describeError(error) };
  }
}

async function requireRecord(registry: DeviceRegistry, thingName: string): Promise<DeviceRecord> {
  const record = await registry.get(thingName);
  if (!record) throw new LifecycleRefused('unknown-thing', `thing ${thingName} is not enrolled`);
  return record;
}

/**
 * What the registry's requestMove would refuse, read from the record, so that a dry run answers
 * as the real run would (core/registry/lifecycle.ts holds the conditions themselves).
 */
function moveRefusal(record: DeviceRecord, to: string, defaults: RequestDeps['registry']['lifecycle']): LifecycleRefused | undefined {
  const name = record.thing_name;
  if (record.prov_status === 'moving') {
    return record.move_to === to ? undefined : new LifecycleRefused('move-in-flight', `thing ${name} is already moving (to ${record.move_to ?? '?'}, requested ${record.move_requested_at ?? '?'})`);
  }
  if (record.prov_status === 'blocked') return new LifecycleRefused('blocked', `thing ${name} is blocked`);
  if (record.prov_status !== 'provisioned') return new LifecycleRefused('not-provisioned', `thing ${name} is ${record.prov_status}, not provisioned`);
  if (record.rotation_certificate_id !== undefined) return new LifecycleRefused('rotation-in-flight', `thing ${name} is rotating its certificate; move it once the rotation is done`);
  if (policyOf(record, defaults) === 'never') return new LifecycleRefused('policy-never', `thing ${name} has reprovisioning policy never: it may not be moved`);
  if (record.aws_region === to) return new LifecycleRefused('same-region', `thing ${name} is already in ${to}`);
  return undefined;
}

/** Asks a device to move to `to` (a region, or `nearest`). */
export async function askToMove(deps: RequestDeps, input: { thingName: string; to: string; reason: string; dryRun?: boolean }): Promise<Asked> {
  const record = await requireRecord(deps.registry, input.thingName);
  // A device already moving keeps its move (the registry says so); a new target is checked only for a new move.
  if (record.prov_status !== 'moving') await checkMoveTarget(deps, record, input.to);
  if (input.dryRun) {
    const refused = moveRefusal(record, input.to, deps.registry.lifecycle);
    if (refused) throw refused;
    return { thingName: input.thingName, outcome: 'would', ...(record.aws_region ? { region: record.aws_region } : {}), shadow: 'skipped' };
  }
  const moveId = (deps.newId ?? newRequestId)('m');
  const { outcome, record: moving } = await deps.registry.requestMove({ thingName: input.thingName, to: input.to, reason: input.reason, moveId });
  const id = moving.move_id ?? moveId;
  const payload = moveRequestUpdate({ id, to: moving.move_to ?? input.to, requestedAt: moving.move_requested_at ?? new Date(deps.now()).toISOString() });
  const written = await writeShadow(deps, moving.aws_region, input.thingName, payload);
  return { thingName: input.thingName, outcome, ...(moving.aws_region ? { region: moving.aws_region } : {}), id, ...written };
}

/** Asks a device to rotate its certificate. */
export async function askToRotate(deps: RequestDeps, input: { thingName: string; dryRun?: boolean }): Promise<Asked> {
  const record = await requireRecord(deps.registry, input.thingName);
  if (input.dryRun) {
    if (record.prov_status === 'blocked') throw new LifecycleRefused('blocked', `thing ${input.thingName} is blocked`);
    if (record.prov_status !== 'provisioned') throw new LifecycleRefused('not-provisioned', `thing ${input.thingName} is ${record.prov_status}, not provisioned`);
    return { thingName: input.thingName, outcome: 'would', ...(record.aws_region ? { region: record.aws_region } : {}), shadow: 'skipped' };
  }
  const rotationId = (deps.newId ?? newRequestId)('r');
  const { outcome, record: asked } = await deps.registry.requestRotation(input.thingName, rotationId);
  const id = asked.rotation_id ?? rotationId;
  const written = await writeShadow(deps, asked.aws_region, input.thingName, rotateRequestUpdate({ id, requestedAt: asked.rotation_requested_at ?? new Date(deps.now()).toISOString() }));
  return { thingName: input.thingName, outcome, ...(asked.aws_region ? { region: asked.aws_region } : {}), id, ...written };
}

/** One device of a batch: what was asked, or why it was refused. */
export type BatchItem = { thingName: string; asked: Asked } | { thingName: string; refused: string; reason?: string };

/**
 * Asks every device of a list, at most `ratePerSecond` a second: the devices that are connected
 * learn at once, and their RegisterThing calls in the regions they go to follow at that rate.
 * A refusal (policy `never`, already moving elsewhere, ...) is one row of the report, not the end.
 */
export async function askMany(
  thingNames: readonly string[],
  ratePerSecond: number,
  ask: (thingName: string) => Promise<Asked>,
  options: { sleep?: (ms: number) => Promise<void>; clock?: () => number; onItem?: (item: BatchItem) => void } = {},
): Promise<BatchItem[]> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const clock = options.clock ?? (() => performance.now());
  const spacing = 1000 / ratePerSecond;
  const started = clock();
  const items: BatchItem[] = [];
  for (const [index, thingName] of thingNames.entries()) {
    const wait = started + index * spacing - clock();
    if (wait > 0) await sleep(wait);
    let item: BatchItem;
    try {
      item = { thingName, asked: await ask(thingName) };
    } catch (error) {
      if (!(error instanceof LifecycleRefused || error instanceof MoveTargetRefused)) throw error;
      item = { thingName, refused: error.message, reason: error.reason };
    }
    items.push(item);
    options.onItem?.(item);
  }
  return items;
}
