import { getIotDataClient } from '@global-iot/core/lifecycle/clients.js';
import { askMany, askToMove, type BatchItem, type RequestDeps } from '@global-iot/core/lifecycle/requests.js';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import { type DeviceRecord, DeviceRegistry, NEAREST } from '@global-iot/core/registry/index.js';
import type { LocalCloud } from '../cloud.js';
import { localDynamoClient } from '../dynamodb.js';
import type { FleetRun } from './outcome.js';
import { percentile } from './summary.js';

/**
 * The drain scenario's second act (`npm start -- --scenario drain`): after the first fleet, one
 * region is drained with migration, as `iot-ops regions drain <region> --migrate --rate <n/s>`
 * does it (the same core/lifecycle/requests.ts: the registry marks each device moving, the
 * request goes into its shadow), then the region's devices boot again and act on it (the device
 * client's move: bootstrap, provision in the new region, confirm, switch). What it ends with is
 * read back from the registry: where each device was, where it is now, and how long its move took.
 */

export interface DrainSettings {
  /** The region to drain; absent: the one that took the most devices. */
  readonly region?: string;
  /** Devices asked per second (`--rate`). */
  readonly ratePerSecond: number;
}

/** One device of the drained region, before and after. */
export interface DrainedDevice {
  readonly thingName: string;
  readonly sourceIp: string;
  readonly location?: { readonly lat: number; readonly lon: number; readonly country: string };
  /** The region it ran in before the drain. */
  readonly from: string;
  /** The region the registry has it in now. */
  readonly now?: string;
  readonly status?: DeviceRecord['prov_status'];
  /** What the operator's request did: `requested`, or why the device was left (`skipped`, `refused`). */
  readonly asked: string;
  readonly askedDetail?: string;
  /** What the device's second boot did (`moved`, `verified`, ...) or why it failed. */
  readonly boot?: string;
  /** The device's own time for its second boot, the move included (ms). */
  readonly bootMs?: number;
  /** From the operator's request to the confirmed switch, by the registry's history (ms). */
  readonly moveMs?: number;
}

export interface DrainResult {
  readonly region: string;
  readonly ratePerSecond: number;
  /** The operator's command this act stands for. */
  readonly command: string;
  readonly devices: readonly DrainedDevice[];
  /** Moved devices per new region. */
  readonly movedTo: Readonly<Record<string, number>>;
  readonly moved: number;
  /** Devices still in the drained region (skipped by policy, refused, or their move not done). */
  readonly stayed: number;
  readonly moveMs?: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly bootMs?: { readonly p50: number; readonly p99: number };
  /** How long asking every device took at the rate. */
  readonly askElapsedMs: number;
  /** Moved devices per second, from the first request to the last switch (the registry's history). */
  readonly movesPerSecond?: number;
}

/** The region that took the most devices of the first fleet (ties: the first in name order). */
export function fullestRegion(run: FleetRun): string | undefined {
  const counts = new Map<string, number>();
  for (const o of run.outcomes) if (o.ok && o.region !== undefined) counts.set(o.region, (counts.get(o.region) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
}

/** The registry and the shadows of the local cloud, as `iot-ops` reaches them with its endpoint flags. */
export function drainDeps(cloud: LocalCloud, config: DeploymentConfig): { deps: RequestDeps; close: () => void } {
  if (!cloud.dynamo) throw new Error('the local cloud must run DynamoDB');
  const client = localDynamoClient(cloud.dynamo.endpoint, config.homeRegion);
  const registry = new DeviceRegistry({
    client,
    tableName: config.tableName,
    claimClientIdPrefix: config.claimClientIdPrefix,
    lifecycle: { defaultPolicy: config.lifecycle.reprovisionPolicy, historyLimit: config.lifecycle.historyLimit },
  });
  const deps: RequestDeps = {
    registry,
    config,
    drainingRegions: () => registry.getDrainingRegions(),
    shadows: (region) => getIotDataClient(region, { endpoint: cloud.iotControlEndpoint }),
    now: Date.now,
  };
  return { deps, close: () => client.destroy() };
}

/** Drains the region and asks each of its devices to move to the nearest other region, at the rate. */
export async function drainWithMigration(deps: RequestDeps, region: string, thingNames: readonly string[], ratePerSecond: number): Promise<{ items: BatchItem[]; elapsedMs: number }> {
  await deps.registry.setRegionDraining(region, true);
  const started = performance.now();
  const items = await askMany(thingNames, ratePerSecond, (thingName) => askToMove(deps, { thingName, to: NEAREST, reason: `drain ${region}` }));
  return { items, elapsedMs: performance.now() - started };
}

const ms = (from: string | undefined, to: string | undefined): number | undefined => {
  if (from === undefined || to === undefined) return undefined;
  const d = Date.parse(to) - Date.parse(from);
  return Number.isFinite(d) && d >= 0 ? d : undefined;
};

function figures(values: number[]): { p50: number; p99: number; max: number } | undefined {
  if (values.length === 0) return undefined;
  values.sort((a, b) => a - b);
  return { p50: Math.round(percentile(values, 50)), p99: Math.round(percentile(values, 99)), max: Math.round(values[values.length - 1] ?? 0) };
}

/** Where each device of the drained region was and is, from the first run, the requests, the second boot and the registry. */
export function drainResult(input: {
  region: string;
  ratePerSecond: number;
  firstRun: FleetRun;
  asked: readonly BatchItem[];
  askElapsedMs: number;
  secondBoot: FleetRun;
  records: ReadonlyMap<string, DeviceRecord>;
}): DrainResult {
  const asked = new Map(input.asked.map((item) => [item.thingName, item]));
  const booted = new Map(input.secondBoot.outcomes.map((o) => [o.thingName, o]));
  const devices: DrainedDevice[] = [];
  const span: number[] = [];
  for (const first of input.firstRun.outcomes) {
    if (!first.ok || first.region !== input.region) continue;
    const item = asked.get(first.thingName);
    const boot = booted.get(first.thingName);
    const record = input.records.get(first.thingName);
    const lastMove = record?.history?.filter((h) => h.kind === 'move' && h.from === input.region).at(-1);
    const moveMs = ms(lastMove?.at, lastMove?.completedAt);
    if (lastMove) span.push(Date.parse(lastMove.at), Date.parse(lastMove.completedAt));
    devices.push({
      thingName: first.thingName,
      sourceIp: first.sourceIp,
      ...(first.location ? { location: first.location } : {}),
      from: input.region,
      ...(record?.aws_region ? { now: record.aws_region } : {}),
      ...(record ? { status: record.prov_status } : {}),
      asked: item === undefined ? 'not asked' : 'refused' in item ? (item.reason === 'policy-never' ? 'skipped' : 'refused') : item.asked.outcome,
      ...(item !== undefined && 'refused' in item ? { askedDetail: item.refused } : {}),
      ...(boot ? { boot: boot.ok ? (boot.result ?? 'ok') : `failed at ${boot.failure?.step ?? '?'}: ${boot.failure?.message ?? ''}`, bootMs: Math.round(boot.totalMs) } : {}),
      ...(moveMs !== undefined ? { moveMs } : {}),
    });
  }
  const moved = devices.filter((d) => d.now !== undefined && d.now !== input.region && d.status === 'provisioned');
  const movedTo: Record<string, number> = {};
  for (const d of moved) if (d.now) movedTo[d.now] = (movedTo[d.now] ?? 0) + 1;
  const moveMs = figures(moved.flatMap((d) => (d.moveMs === undefined ? [] : [d.moveMs])));
  const bootFigures = figures(moved.flatMap((d) => (d.bootMs === undefined ? [] : [d.bootMs])));
  const spanMs = span.length > 0 ? Math.max(...span) - Math.min(...span) : 0;
  return {
    region: input.region,
    ratePerSecond: input.ratePerSecond,
    command: `iot-ops regions drain ${input.region} --migrate --rate ${input.ratePerSecond}/s`,
    devices,
    movedTo,
    moved: moved.length,
    stayed: devices.length - moved.length,
    ...(moveMs ? { moveMs } : {}),
    ...(bootFigures ? { bootMs: { p50: bootFigures.p50, p99: bootFigures.p99 } } : {}),
    askElapsedMs: Math.round(input.askElapsedMs),
    ...(moved.length > 0 && spanMs > 0 ? { movesPerSecond: Math.round((moved.length / spanMs) * 10_000) / 10 } : {}),
  };
}

/** The result as text, after the fleet's summary. */
export function formatDrain(result: DrainResult): string {
  const lines = [`$ ${result.command}`, `asked ${result.devices.length} devices of ${result.region} in ${(result.askElapsedMs / 1000).toFixed(1)} s`];
  lines.push(`${result.moved} moved (${Object.entries(result.movedTo).map(([r, n]) => `${n} to ${r}`).join(', ') || 'none'}), ${result.stayed} still in ${result.region}`);
  if (result.moveMs) lines.push(`move, request to switch: p50 ${result.moveMs.p50} ms, p99 ${result.moveMs.p99} ms, max ${result.moveMs.max} ms`);
  if (result.movesPerSecond !== undefined) lines.push(`${result.movesPerSecond} moves per second, from the first request to the last switch`);
  if (result.bootMs) lines.push(`the device's boot with its move: p50 ${result.bootMs.p50} ms, p99 ${result.bootMs.p99} ms`);
  const stayed = result.devices.filter((d) => d.now === result.region || d.status !== 'provisioned');
  for (const d of stayed.slice(0, 5)) lines.push(`  stayed: ${d.thingName} (${d.status ?? '?'}; asked: ${d.asked}${d.askedDetail ? ` - ${d.askedDetail}` : ''}; boot: ${d.boot ?? '-'})`);
  if (stayed.length > 5) lines.push(`  ... and ${stayed.length - 5} more`);
  return `${lines.join('\n')}\n`;
}
