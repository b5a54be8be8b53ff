import * as z from 'zod';
import { type CliCommand, defineCommand, rowsOutcome } from '../../lib/command.js';
import { dryRunFlag } from '../../lib/common-flags.js';
import type { CommandContext } from '../../lib/context.js';
import type { LifecycleStep } from '../../lib/device-certificates.js';
import type { LifecycleDeps, LifecycleReport } from '../../lib/device-lifecycle.js';
import type { ExitCode } from '../../lib/errors.js';
import { arg, defineArgs, defineFlags, flag } from '../../lib/flags.js';
import { renderTable, toJson } from '../../lib/output.js';

/** What `reset`, `block` and `unblock` share: the thing, the reason, the dry run, and the step report. */

export const thingArgs = defineArgs({ thing: arg('<thing>', 'thing name', z.string()) });

export const reasonFlag = flag.string(
  '--reason <text>',
  'why (recorded on the device)',
  z.string().trim().min(1, 'a reason is required').max(500, 'at most 500 characters'),
  { required: true },
);

export const changeDryRunFlag = dryRunFlag('show every step it would take (registry and certificates), change nothing');

export function lifecycleDeps(ctx: CommandContext): LifecycleDeps {
  return { registry: ctx.registry(), iot: (region) => ctx.iot(region), regions: ctx.config().config.regions, timeoutMs: ctx.timeoutMs };
}

const STEP_COLUMNS = [
  { header: 'STEP', value: (s: LifecycleStep) => s.action },
  { header: 'REGION', value: (s: LifecycleStep) => s.region },
  { header: 'CERTIFICATE', value: (s: LifecycleStep) => s.certificateId },
  { header: 'OUTCOME', value: (s: LifecycleStep) => s.outcome },
  { header: 'DETAIL', value: (s: LifecycleStep) => s.error ?? s.detail },
];

/** The report (a table of steps, or JSON); exit 0, 3 when some steps failed, 1 when all did. */
export function printLifecycle(ctx: CommandContext, report: LifecycleReport): ExitCode {
  if (ctx.json) {
    ctx.io.stdout(toJson(report));
  } else {
    const note = report.dryRun ? ' (dry run: nothing changed)' : report.to === report.from && report.from !== 'blocked' ? ' (not changed)' : '';
    ctx.io.stdout(`${report.thingName}: ${report.from} -> ${report.to}${note}\n`);
    ctx.io.stdout(renderTable(STEP_COLUMNS, report.steps));
  }
  return rowsOutcome(report.steps, (s) => s.outcome === 'failed');
}

/** `block` and `unblock`: one device, a reason, a dry run. */
export function lifecycleCommand(
  name: 'block' | 'unblock',
  description: string,
  run: (deps: LifecycleDeps, thing: string, reason: string, dryRun: boolean) => Promise<LifecycleReport>,
): CliCommand {
  return defineCommand({
    name,
    description,
    args: thingArgs,
    flags: defineFlags({ reason: reasonFlag, dryRun: changeDryRunFlag }),
    async run(ctx, { args, flags: f }) {
      return printLifecycle(ctx, await run(lifecycleDeps(ctx), args.thing, f.reason, f.dryRun));
    },
  });
}
