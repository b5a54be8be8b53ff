import type { BatchItem } from '@global-iot/core/lifecycle/requests.js';
import type { CommandContext } from '../../lib/context.js';
import { EXIT, type ExitCode } from '../../lib/errors.js';
import { createProgress, type Progress, renderTable, toJson } from '../../lib/output.js';
import { type RequestRow, rowFailed } from '../../lib/requests.js';

/** What `move`, `rotate` and `regions drain --migrate` print: one row per device, then the counts. */

const COLUMNS = [
  { header: 'THING', value: (r: RequestRow) => r.thingName },
  { header: 'OUTCOME', value: (r: RequestRow) => r.outcome },
  { header: 'REGION', value: (r: RequestRow) => r.region },
  { header: 'REQUEST', value: (r: RequestRow) => r.id },
  { header: 'SHADOW', value: (r: RequestRow) => r.shadow },
  { header: 'DETAIL', value: (r: RequestRow) => r.detail },
];

export interface RequestReport {
  readonly kind: 'move' | 'rotate';
  readonly dryRun: boolean;
  readonly rows: readonly RequestRow[];
  /** Anything else the command did first (the drain of `regions drain --migrate`). */
  readonly extra?: Record<string, unknown>;
}

function countsOf(rows: readonly RequestRow[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.outcome] = (counts[row.outcome] ?? 0) + 1;
  const shadowFailed = rows.filter((r) => r.shadow === 'failed').length;
  if (shadowFailed > 0) counts['shadowFailed'] = shadowFailed;
  return counts;
}

/** Prints the report; exit 0, 3 when some devices failed (refused, or their shadow not written), 1 when all were refused. */
export function printRequests(ctx: CommandContext, report: RequestReport): ExitCode {
  const counts = countsOf(report.rows);
  if (ctx.json) {
    ctx.io.stdout(toJson({ ...report.extra, kind: report.kind, dryRun: report.dryRun, counts, items: report.rows }));
  } else {
    if (report.rows.length > 0) ctx.io.stdout(renderTable(COLUMNS, report.rows));
    const summary = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'no devices';
    ctx.io.stdout(`${report.dryRun ? `would ${report.kind}` : report.kind}: ${summary}${report.dryRun ? ' (dry run: nothing changed)' : ''}\n`);
  }
  // A request the registry took but the shadow did not is half done: partial, never plain failure.
  const refused = report.rows.filter((r) => r.outcome === 'refused').length;
  if (refused > 0 && refused === report.rows.length) return EXIT.failed;
  return report.rows.some(rowFailed) ? EXIT.partial : EXIT.ok;
}

/** Progress of a batch on stderr (the rows themselves are printed at the end). */
export function batchProgress(ctx: CommandContext, label: string): { progress: Progress; onItem: (item: BatchItem, done: number, total: number) => void } {
  const progress = createProgress(ctx.io, label, { now: ctx.now, quiet: ctx.quiet });
  return { progress, onItem: (_item, done, total) => progress.update(done, total) };
}

