import * as z from 'zod';
import { type CliCommand, defineCommand } from '../../lib/command.js';
import { dryRunFlag } from '../../lib/common-flags.js';
import { cleanUp, type CleanupRow, pendingRecords } from '../../lib/cleanup.js';
import { EXIT, UsageError } from '../../lib/errors.js';
import { arg, defineArgs, defineFlags, flag } from '../../lib/flags.js';
import { renderTable, toJson } from '../../lib/output.js';
import { requireThingName } from '../../lib/requests.js';

const COLUMNS = [
  { header: 'THING', value: (r: CleanupRow) => r.thingName },
  { header: 'PENDING', value: (r: CleanupRow) => r.pending },
  { header: 'DONE', value: (r: CleanupRow) => r.done },
  { header: 'LEFT', value: (r: CleanupRow) => r.left },
  { header: 'FAILED STEPS', value: (r: CleanupRow) => r.steps.filter((s) => s.outcome === 'failed').map((s) => `${s.action} ${s.region ?? ''}: ${s.error ?? ''}`).join('; ') },
];

export const cleanup: CliCommand = defineCommand({
  name: 'cleanup',
  description: 'finish what completed moves and rotations left pending: old certificates revoked, the old thing and shadow deleted',
  args: defineArgs({ thing: arg('[thing]', 'thing name of one device', z.string().optional()) }),
  flags: defineFlags({
    all: flag.boolean('--all', 'every device with clean-up pending'),
    dryRun: dryRunFlag('list what is pending, change nothing'),
  }),
  async run(ctx, { args, flags: f }) {
    if ((args.thing === undefined) === !f.all) throw new UsageError('give a thing name or --all, one of them');
    if (args.thing !== undefined) requireThingName(args.thing);
    const registry = ctx.registry();
    const records = await pendingRecords(registry, args.thing);
    const rows = await cleanUp({ registry, iot: (r) => ctx.iot(r), shadows: (r) => ctx.shadows(r) }, records, f.dryRun);
    if (ctx.json) {
      ctx.io.stdout(toJson({ dryRun: f.dryRun, items: rows }));
    } else {
      if (rows.length > 0) ctx.io.stdout(renderTable(COLUMNS, rows));
      const left = rows.reduce((n, r) => n + r.left.length, 0);
      const done = rows.reduce((n, r) => n + r.done.length, 0);
      ctx.io.stdout(f.dryRun ? `pending: ${left} entries on ${rows.filter((r) => r.left.length > 0).length} devices (dry run: nothing changed)\n` : `cleaned: ${done} entries done, ${left} left\n`);
    }
    if (f.dryRun) return EXIT.ok;
    const failed = rows.filter((r) => r.left.length > 0).length;
    if (failed === 0) return EXIT.ok;
    return rows.some((r) => r.done.length > 0) ? EXIT.partial : EXIT.failed;
  },
});
