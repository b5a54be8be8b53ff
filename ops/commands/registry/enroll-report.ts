import type { BulkEnrollReport, BulkItemResult } from '@global-iot/core/registry/index.js';
import { outcomeCode } from '../../lib/command.js';
import type { CommandContext } from '../../lib/context.js';
import type { RowProblem } from '../../lib/enroll-input.js';
import { EXIT, type ExitCode } from '../../lib/errors.js';
import { renderTable, toJson } from '../../lib/output.js';

const INVALID_COLUMNS = [
  { header: 'ROW', value: (r: RowProblem) => r.where },
  { header: 'THING', value: (r: RowProblem) => r.thingName },
  { header: 'PROBLEM', value: (r: RowProblem) => r.problems.join('; ') },
];

const PROBLEM_COLUMNS = [
  { header: 'THING', value: (r: BulkItemResult) => r.thingName },
  { header: 'OUTCOME', value: (r: BulkItemResult) => r.outcome },
  { header: 'REASON', value: (r: BulkItemResult) => r.reason },
];

/**
 * What an enrolment did: the invalid rows and the devices that did not go in (table or JSON),
 * then the counts. No report means validation refused the file and nothing was written (exit 2).
 */
export function printEnrollReport(ctx: CommandContext, report: BulkEnrollReport | undefined, invalid: readonly RowProblem[]): ExitCode {
  const counts = { created: 0, unchanged: 0, conflict: 0, failed: 0, ...report?.counts, invalid: invalid.length };
  const dryRun = report?.dryRun ?? false;
  const written = report !== undefined;
  if (ctx.json) {
    ctx.io.stdout(toJson({ written: written && !dryRun, dryRun, counts, invalid, results: report?.results ?? [] }));
  } else {
    const problems = report?.results.filter((r) => r.outcome === 'conflict' || r.outcome === 'failed') ?? [];
    if (invalid.length > 0) ctx.io.stdout(renderTable(INVALID_COLUMNS, invalid));
    if (problems.length > 0) ctx.io.stdout(renderTable(PROBLEM_COLUMNS, problems));
    const summary = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
    const note = !written ? ' (nothing written: fix the rows or pass --allow-partial)' : dryRun ? ' (dry run: nothing written)' : '';
    ctx.io.stdout(`${dryRun ? 'would enrol' : 'enrolled'}: ${summary}${note}\n`);
  }
  if (!written) return EXIT.usage;
  return outcomeCode(counts.created + counts.unchanged, counts.conflict + counts.failed + counts.invalid);
}
