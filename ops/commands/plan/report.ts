import type { AdmissionSettings } from '@global-iot/core/config.js';
import type { CommandContext } from '../../lib/context.js';
import { renderTable, toJson } from '../../lib/output.js';
import type { PlannedDevice, RolloutPlan } from '../../lib/plan.js';
import type { SimulatedDevice, Simulation } from '../../lib/plan-simulate.js';

/** What `iot-ops plan` prints: the devices, the regions, the least time, and the simulation's comparison. */

const DEVICE_COLUMNS = [
  { header: 'THING', value: (d: PlannedDevice) => d.thingName },
  { header: 'SOURCE_IP', value: (d: PlannedDevice) => d.sourceIp },
  { header: 'COUNTRY', value: (d: PlannedDevice) => d.country },
  { header: 'REGION', value: (d: PlannedDevice) => d.region },
  { header: 'PLACEMENT', value: (d: PlannedDevice) => d.placement },
  { header: 'FALLBACKS', value: (d: PlannedDevice) => d.fallbacks },
  { header: 'NOTE', value: (d: PlannedDevice) => d.note },
];

const MISMATCH_COLUMNS = [
  { header: 'THING', value: (d: SimulatedDevice) => d.thingName },
  { header: 'REHEARSAL', value: (d: SimulatedDevice) => d.rehearsalName },
  { header: 'PREDICTED', value: (d: SimulatedDevice) => d.predicted },
  { header: 'ACTUAL', value: (d: SimulatedDevice) => d.actual ?? d.error },
  { header: 'PLACEMENT', value: (d: SimulatedDevice) => d.placement },
];

function regionRows(plan: RolloutPlan): { region: string; devices: number; ceiling: number; seconds: number }[] {
  return plan.leastTime.perRegion.map((r) => ({ region: r.region, devices: r.devices, ceiling: r.ceiling, seconds: r.seconds }));
}

function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function simulationSummary(simulation: Simulation) {
  const waits = [...simulation.retryAfterSeconds].sort((a, b) => a - b);
  return {
    total: simulation.devices.length,
    matched: simulation.matched,
    mismatched: simulation.mismatched.length,
    elapsedSeconds: Math.round(simulation.elapsedMs / 100) / 10,
    refusals: waits.length,
    retryAfterSeconds: { min: waits[0], p50: percentile(waits, 50), max: waits.at(-1) },
  };
}

export function printPlan(ctx: CommandContext, plan: RolloutPlan, admission: Pick<AdmissionSettings, 'enabled'>, simulation?: Simulation): void {
  if (ctx.json) {
    ctx.io.stdout(
      toJson({
        devices: plan.devices,
        perRegion: regionRows(plan),
        leastTimeSeconds: plan.leastTime.seconds,
        draining: plan.draining,
        ...(simulation ? { simulation: { ...simulationSummary(simulation), mismatches: simulation.mismatched, devices: simulation.devices } } : {}),
      }),
    );
    return;
  }
  const out: string[] = [renderTable(DEVICE_COLUMNS, plan.devices), ''];
  out.push(renderTable([
    { header: 'REGION', value: (r: ReturnType<typeof regionRows>[number]) => r.region },
    { header: 'DEVICES', value: (r) => r.devices },
    { header: 'CEILING/S', value: (r) => (admission.enabled ? r.ceiling : 'off') },
    { header: 'SECONDS', value: (r) => r.seconds },
  ], regionRows(plan)));
  const draining = plan.draining.length > 0 ? ` (draining: ${plan.draining.join(', ')})` : '';
  out.push(
    admission.enabled
      ? `least time to provision them all under the admission ceilings: ${plan.leastTime.seconds} s${draining}\n`
      : `admission is off: no ceiling to wait for${draining}\n`,
  );
  if (simulation) {
    const s = simulationSummary(simulation);
    out.push(
      '',
      `simulated through the local cloud: ${s.matched} of ${s.total} devices where planned, in ${s.elapsedSeconds} s; ` +
        `${s.refusals} answers to come back later (Retry-After ${s.retryAfterSeconds.min ?? '-'} to ${s.retryAfterSeconds.max ?? '-'} s, median ${s.retryAfterSeconds.p50 ?? '-'} s)\n`,
    );
    if (simulation.mismatched.length > 0) out.push('', 'not where planned:\n', renderTable(MISMATCH_COLUMNS, simulation.mismatched));
  }
  ctx.io.stdout(out.join('\n'));
}
