import { type StepName, STEPS } from '@global-iot/device/provision.js';
import type { FleetRun } from './outcome.js';

/** The numbers a fleet run ends with, and the text table that shows them. */

export interface StepFigures {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface FleetSummary {
  readonly devices: number;
  readonly provisioned: number;
  readonly failed: number;
  readonly devicesPerSecond: number;
  readonly elapsedMs: number;
  readonly concurrency: number;
  readonly perRegion: Readonly<Record<string, number>>;
  /** Region -> how its devices were placed there (`model`, `measured`, `default`, ...) -> count. */
  readonly placements: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** "step: cause" -> count. */
  readonly failuresByCause: Readonly<Record<string, number>>;
  /** Step -> retries over the whole fleet (transient failures that a later try got past, or not). */
  readonly retriesByStep: Readonly<Partial<Record<StepName, number>>>;
  readonly perStep: Readonly<Partial<Record<StepName | 'total', StepFigures>>>;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

function figures(values: number[]): StepFigures {
  values.sort((a, b) => a - b);
  return { count: values.length, p50Ms: round1(percentile(values, 50)), p99Ms: round1(percentile(values, 99)) };
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

export function summarize(run: FleetRun): FleetSummary {
  const perRegion: Record<string, number> = {};
  const placements: Record<string, Record<string, number>> = {};
  const failuresByCause: Record<string, number> = {};
  const retriesByStep: Partial<Record<StepName, number>> = {};
  const samples = new Map<StepName | 'total', number[]>();
  let provisioned = 0;
  for (const outcome of run.outcomes) {
    if (outcome.ok) {
      provisioned += 1;
      const region = outcome.region ?? 'unknown';
      perRegion[region] = (perRegion[region] ?? 0) + 1;
      const byPlacement = (placements[region] ??= {});
      const placement = outcome.placement ?? 'unknown';
      byPlacement[placement] = (byPlacement[placement] ?? 0) + 1;
      const total = samples.get('total') ?? [];
      total.push(outcome.totalMs);
      samples.set('total', total);
    } else {
      const f = outcome.failure;
      const cause = f === undefined ? 'unknown' : `${f.step}: ${f.code ?? f.name}${f.status !== undefined ? ` (${f.status})` : ''}`;
      failuresByCause[cause] = (failuresByCause[cause] ?? 0) + 1;
    }
    for (const [step, n] of Object.entries(outcome.retries ?? {}) as [StepName, number][]) retriesByStep[step] = (retriesByStep[step] ?? 0) + n;
    for (const [step, ms] of Object.entries(outcome.steps) as [StepName, number][]) {
      const list = samples.get(step) ?? [];
      list.push(ms);
      samples.set(step, list);
    }
  }
  const perStep: Partial<Record<StepName | 'total', StepFigures>> = {};
  for (const step of [...STEPS, 'total'] as const) {
    const list = samples.get(step);
    if (list && list.length > 0) perStep[step] = figures(list);
  }
  const seconds = run.elapsedMs / 1000;
  return {
    devices: run.outcomes.length,
    provisioned,
    failed: run.outcomes.length - provisioned,
    devicesPerSecond: seconds > 0 ? round1(provisioned / seconds) : 0,
    elapsedMs: Math.round(run.elapsedMs),
    concurrency: run.concurrency,
    perRegion,
    placements,
    failuresByCause,
    retriesByStep,
    perStep,
  };
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatSummary(summary: FleetSummary): string {
  const out: string[] = [];
  out.push(
    `${summary.provisioned} of ${summary.devices} devices provisioned in ${(summary.elapsedMs / 1000).toFixed(1)} s ` +
      `(${summary.devicesPerSecond} devices/s, ${summary.concurrency} at a time)`,
  );
  out.push('');
  const regions = Object.entries(summary.perRegion).sort((a, b) => b[1] - a[1]);
  const placed = (region: string, how: string): string => String(summary.placements[region]?.[how] ?? 0);
  out.push(table(['region', 'devices', 'by model', 'by measurement'], regions.map(([region, n]) => [region, String(n), placed(region, 'model'), placed(region, 'measured')])));
  out.push('');
  const steps = (Object.entries(summary.perStep) as [string, StepFigures][]).map(([step, f]) => [
    step,
    String(f.count),
    f.p50Ms.toFixed(1),
    f.p99Ms.toFixed(1),
  ]);
  out.push(table(['step', 'count', 'p50 ms', 'p99 ms'], steps));
  const retries = Object.entries(summary.retriesByStep);
  if (retries.length > 0) out.push(`\nretries: ${retries.map(([step, n]) => `${step} ${n}`).join(', ')}`);
  const failures = Object.entries(summary.failuresByCause).sort((a, b) => b[1] - a[1]);
  if (failures.length > 0) {
    out.push('');
    out.push(table(['failed at: cause', 'devices'], failures.map(([cause, n]) => [cause, String(n)])));
  }
  return `${out.join('\n')}\n`;
}
