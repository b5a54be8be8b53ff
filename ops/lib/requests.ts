import {
  type Asked,
  askMany,
  askToMove,
  askToRotate,
  type BatchItem,
  checkMoveTarget,
  type RequestDeps,
} from '@global-iot/core/lifecycle/requests.js';
import { type DeviceRecord, NEAREST } from '@global-iot/core/registry/index.js';
import { isIotRegion } from '@global-iot/core/regions.js';
import { isValidThingName } from '@global-iot/core/thing-name.js';
import { NAME_RULES } from '@global-iot/core/template/aws-names.js';
import type { CommandContext } from './context.js';
import { UsageError } from './errors.js';

/**
 * `move`, `rotate` and `regions drain --migrate`: the context's clients and settings wired into
 * core/lifecycle/requests.ts, which does the asking (target checked, one conditional registry
 * write, the request written into the device's shadow). What is here picks the devices of a batch
 * and checks what does not depend on a device before any of them is asked.
 */

export function requestDeps(ctx: CommandContext): RequestDeps {
  const { config } = ctx.config();
  const registry = ctx.registry();
  return { registry, config, drainingRegions: () => registry.getDrainingRegions(), shadows: (region) => ctx.shadows(region), now: ctx.now };
}

export function requireThingName(thingName: string): void {
  if (!isValidThingName(thingName)) throw new UsageError(`"${thingName}" is not a thing name (${NAME_RULES.thingName.rule})`);
}

/**
 * The target of a batch, checked once before any device is asked: an unknown, disabled or
 * draining region refuses the whole batch with nothing changed. What depends on a device (its
 * country's residency, whether another region is open for it) is checked per device.
 */
export async function checkBatchTarget(deps: RequestDeps, to: string, fromRegion?: string): Promise<void> {
  if (to !== NEAREST && to === fromRegion) throw new UsageError(`--to ${to} is the region the devices leave`);
  const probe: DeviceRecord = { thing_name: 'batch', prov_status: 'provisioned', ...(fromRegion ? { aws_region: fromRegion } : {}) };
  await checkMoveTarget(deps, probe, to);
}

export function checkSourceRegion(region: string): void {
  // Not necessarily enabled: moving devices off a region taken out of `regions` is a use of it.
  if (!isIotRegion(region)) throw new UsageError(`${region} is not an AWS region with AWS IoT Core`);
}

/**
 * The devices of a batch, in thing-name order: those that run in `region` (all regions when
 * absent) and are in one of `statuses`, at most `limit`.
 */
export async function selectDevices(
  deps: Pick<RequestDeps, 'registry'>,
  filter: { region?: string; statuses: readonly DeviceRecord['prov_status'][]; limit?: number },
): Promise<string[]> {
  const names: string[] = [];
  for await (const record of deps.registry.scan(filter.region ? { region: filter.region } : {})) {
    if (!filter.statuses.includes(record.prov_status)) continue;
    names.push(record.thing_name);
  }
  names.sort();
  return filter.limit === undefined ? names : names.slice(0, filter.limit);
}

export interface MoveBatch {
  readonly fromRegion: string;
  readonly to: string;
  readonly reason: string;
  readonly ratePerSecond: number;
  readonly limit?: number;
  readonly dryRun: boolean;
  readonly onItem?: (item: BatchItem, done: number, total: number) => void;
}

/**
 * Asks the devices of a region to move, at most `ratePerSecond` a second. A device already moving
 * (it is leaving the region either way) is asked again for its own move, which writes its shadow
 * again (`unchanged`): a batch cut short, or one whose shadow writes failed, is simply re-run.
 */
export async function moveFromRegion(deps: RequestDeps, batch: MoveBatch): Promise<BatchItem[]> {
  checkSourceRegion(batch.fromRegion);
  await checkBatchTarget(deps, batch.to, batch.fromRegion);
  const names = await selectDevices(deps, { region: batch.fromRegion, statuses: ['provisioned', 'moving'], ...(batch.limit !== undefined ? { limit: batch.limit } : {}) });
  let done = 0;
  const ask = async (thingName: string): Promise<Asked> => {
    const record = await deps.registry.get(thingName);
    const to = record?.prov_status === 'moving' && record.move_to !== undefined ? record.move_to : batch.to;
    return askToMove(deps, { thingName, to, reason: batch.reason, dryRun: batch.dryRun });
  };
  return askMany(names, batch.dryRun ? Number.POSITIVE_INFINITY : batch.ratePerSecond, ask, {
    onItem: (item) => batch.onItem?.(item, ++done, names.length),
  });
}

export interface RotateBatch {
  readonly region?: string;
  readonly ratePerSecond: number;
  readonly limit?: number;
  readonly dryRun: boolean;
  readonly onItem?: (item: BatchItem, done: number, total: number) => void;
}

/** Asks every provisioned device (of a region) to rotate its certificate, at a bounded rate. */
export async function rotateMany(deps: RequestDeps, batch: RotateBatch): Promise<BatchItem[]> {
  if (batch.region !== undefined) checkSourceRegion(batch.region);
  const names = await selectDevices(deps, { ...(batch.region ? { region: batch.region } : {}), statuses: ['provisioned'], ...(batch.limit !== undefined ? { limit: batch.limit } : {}) });
  let done = 0;
  return askMany(names, batch.dryRun ? Number.POSITIVE_INFINITY : batch.ratePerSecond, (thingName) => askToRotate(deps, { thingName, dryRun: batch.dryRun }), {
    onItem: (item) => batch.onItem?.(item, ++done, names.length),
  });
}

/** One row of a request report, for one device or a batch. */
export interface RequestRow {
  readonly thingName: string;
  /** What happened: `requested`, `unchanged`, `would` (dry run), `skipped` (policy never in a batch), `refused`. */
  readonly outcome: Asked['outcome'] | 'skipped' | 'refused';
  readonly region?: string;
  readonly id?: string;
  readonly shadow?: Asked['shadow'];
  readonly reason?: string;
  readonly detail?: string;
}

export function rowOf(item: BatchItem): RequestRow {
  if ('refused' in item) {
    // A device whose own policy is `never` stays by design: a batch skips it, it does not fail.
    const outcome = item.reason === 'policy-never' ? 'skipped' : 'refused';
    return { thingName: item.thingName, outcome, ...(item.reason ? { reason: item.reason } : {}), detail: item.refused };
  }
  const { asked } = item;
  return {
    thingName: asked.thingName,
    outcome: asked.outcome,
    ...(asked.region ? { region: asked.region } : {}),
    ...(asked.id ? { id: asked.id } : {}),
    shadow: asked.shadow,
    ...(asked.error ? { detail: `shadow not written (${asked.error}); run the same command again` } : {}),
  };
}

/** A row failed when the device was refused, or when its request did not reach its shadow. */
export function rowFailed(row: RequestRow): boolean {
  return row.outcome === 'refused' || row.shadow === 'failed';
}
