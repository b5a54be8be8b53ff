import { UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { type Confirmation, type DeviceRecord, policyOf } from '../registry/index.js';
import { type Migrated, migrateThingData } from './migrate.js';
import { type CleanupReport, type RetireDeps, runCleanup } from './retire.js';
import { currentUpdate } from './shadow-protocol.js';

/**
 * Phase two of a move, and the end of a rotation, in the order that keeps a device working
 * (README, "A move, in two phases"): for a move with policy `migrate`, the thing's data is copied
 * to the new region first; then the registry switches to the new region and certificate (one
 * conditional write); then the shadow the device now uses says so (`current`), which is the
 * device's signal to switch; only then are the old certificates revoked and the old thing and
 * shadow deleted. A failure before the switch changes nothing (the caller's invocation is retried);
 * after it, the clean-up stays in `cleanup_pending` and a confirmation repeated, a retry or
 * `iot-ops cleanup` finishes it.
 */

export type CompletionDeps = RetireDeps;

export interface Completion {
  readonly kind: 'move' | 'rotation' | 'repeated';
  readonly record: DeviceRecord;
  readonly migrated?: Migrated;
  readonly cleanup?: CleanupReport;
}

async function writeCurrent(deps: CompletionDeps, record: DeviceRecord, confirmed: { certificateId: string; region: string }): Promise<void> {
  await deps.shadows(confirmed.region).send(
    new UpdateThingShadowCommand({ thingName: record.thing_name, payload: Buffer.from(currentUpdate({ certificateId: confirmed.certificateId, region: confirmed.region })) }),
  );
}

/**
 * Completes what a confirmation found (`DeviceRegistry.confirmation`): a move or a rotation, or,
 * for a confirmation repeated after a completion whose later steps failed, those steps. Anything
 * else is not this function's: undefined.
 */
export async function completeConfirmation(
  deps: CompletionDeps,
  confirmation: Confirmation,
  confirmed: { certificateId: string; region: string },
): Promise<Completion | undefined> {
  if (confirmation.kind === 'move') {
    const { record } = confirmation;
    const from = record.aws_region;
    const migrated =
      policyOf(record, deps.registry.lifecycle) === 'migrate' && from !== undefined
        ? await migrateThingData(deps, record.thing_name, from, confirmed.region)
        : undefined;
    const switched = await deps.registry.completeMove(record, confirmed);
    await writeCurrent(deps, switched, confirmed);
    return { kind: 'move', record: switched, ...(migrated ? { migrated } : {}), cleanup: await runCleanup(deps, switched) };
  }
  if (confirmation.kind === 'rotation') {
    const switched = await deps.registry.completeRotation(confirmation.record, confirmed);
    await writeCurrent(deps, switched, confirmed);
    return { kind: 'rotation', record: switched, cleanup: await runCleanup(deps, switched) };
  }
  if (confirmation.kind === 'repeated' && (confirmation.record.cleanup_pending?.length ?? 0) > 0) {
    await writeCurrent(deps, confirmation.record, confirmed);
    return { kind: 'repeated', record: confirmation.record, cleanup: await runCleanup(deps, confirmation.record) };
  }
  return undefined;
}
