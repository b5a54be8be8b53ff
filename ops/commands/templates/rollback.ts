import * as z from 'zod';
import { defineCommand, type CliCommand, rowsOutcome } from '../../lib/command.js';
import { dryRunFlag, regionsFlag } from '../../lib/common-flags.js';
import { defineFlags, flag } from '../../lib/flags.js';
import { renderTable, toJson } from '../../lib/output.js';
import { rollbackTemplate, type RollbackRow } from '../../lib/templates.js';
import { nameFlag, templateTarget } from './target.js';

export const templatesRollback: CliCommand = defineCommand({
  name: 'rollback',
  description: 'make the previous version (or --to-version) the default again',
  flags: defineFlags({
    name: nameFlag,
    regions: regionsFlag,
    toVersion: flag.string('--to-version <n>', 'this version instead of the previous one', z.coerce.number().int().positive().optional()),
    dryRun: dryRunFlag('show what each region would get, change nothing'),
  }),
  async run(ctx, { flags }) {
    const rows = await rollbackTemplate(templateTarget(ctx, flags), {
      dryRun: flags.dryRun,
      ...(flags.toVersion !== undefined ? { toVersion: flags.toVersion } : {}),
    });
    if (ctx.json) {
      ctx.io.stdout(toJson({ dryRun: flags.dryRun, regions: rows }));
    } else {
      const columns = [
        { header: 'REGION', value: (r: RollbackRow) => r.region },
        { header: flags.dryRun ? 'WOULD' : 'ACTION', value: (r: RollbackRow) => r.action },
        { header: 'FROM', value: (r: RollbackRow) => r.from },
        { header: 'TO', value: (r: RollbackRow) => r.to },
        { header: 'ERROR', value: (r: RollbackRow) => r.error },
      ];
      ctx.io.stdout(renderTable(columns, rows));
      if (flags.dryRun) ctx.io.stdout('dry run: nothing changed\n');
    }
    return rowsOutcome(rows, (r) => r.action === 'error');
  },
});
