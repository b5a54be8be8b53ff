import type { IoTClient } from '@aws-sdk/client-iot';
import type { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import type { CertificateStep } from '@global-iot/core/lifecycle/certificates.js';
import { type CleanupReport, runCleanup } from '@global-iot/core/lifecycle/retire.js';
import type { DeviceRecord, DeviceRegistry } from '@global-iot/core/registry/index.js';
import { OperationFailed } from './errors.js';

/**
 * `iot-ops cleanup`: what completed moves and rotations left in `cleanup_pending` (an old region's
 * certificates, thing and shadow; an old certificate), done by core/lifecycle/retire.ts, the same
 * code the confirmation runs. A dry run lists the entries and does nothing.
 */

export interface CleanupDeps {
  readonly registry: DeviceRegistry;
  readonly iot: (region: string) => IoTClient;
  readonly shadows: (region: string) => IoTDataPlaneClient;
}

export interface CleanupRow {
  readonly thingName: string;
  /** The entries pending before the run. */
  readonly pending: readonly string[];
  readonly done: readonly string[];
  readonly left: readonly string[];
  readonly steps: readonly CertificateStep[];
}

/** The records to clean: one device, or every device with entries pending. */
export async function pendingRecords(registry: DeviceRegistry, thingName: string | undefined): Promise<DeviceRecord[]> {
  if (thingName !== undefined) {
    const record = await registry.get(thingName);
    if (!record) throw new OperationFailed(`thing ${thingName} is not enrolled`);
    return [record];
  }
  const records: DeviceRecord[] = [];
  for await (const record of registry.scan()) if ((record.cleanup_pending?.length ?? 0) > 0) records.push(record);
  return records.sort((a, b) => (a.thing_name < b.thing_name ? -1 : 1));
}

export async function cleanUp(deps: CleanupDeps, records: readonly DeviceRecord[], dryRun: boolean): Promise<CleanupRow[]> {
  const rows: CleanupRow[] = [];
  for (const record of records) {
    const pending = record.cleanup_pending ?? [];
    if (dryRun || pending.length === 0) {
      rows.push({ thingName: record.thing_name, pending, done: [], left: pending, steps: [] });
      continue;
    }
    const report: CleanupReport = await runCleanup(deps, record);
    rows.push({ thingName: record.thing_name, pending, done: report.done, left: report.left, steps: report.steps });
  }
  return rows;
}
