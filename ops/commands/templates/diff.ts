import { defineCommand, type CliCommand, rowsOutcome } from '../../lib/command.js';
import { regionsFlag } from '../../lib/common-flags.js';
import { defineFlags } from '../../lib/flags.js';
import { renderTable, toJson } from '../../lib/output.js';
import { diffTemplates, type TemplateDiffRow } from '../../lib/templates.js';
import { fileFlag, localTemplate, nameFlag, templateTarget } from './target.js';

const COLUMNS = [
  { header: 'REGION', value: (r: TemplateDiffRow) => r.region },
  { header: 'STATE', value: (r: TemplateDiffRow) => r.state },
  { header: 'DEFAULT', value: (r: TemplateDiffRow) => r.defaultVersion },
  { header: 'ERROR', value: (r: TemplateDiffRow) => r.error },
];

export const templatesDiff: CliCommand = defineCommand({
  name: 'diff',
  description: "differences between a local template file and each region's default version",
  flags: defineFlags({
    file: fileFlag('the template file (default: cdk.json infra.templateFile)'),
    name: nameFlag,
    regions: regionsFlag,
  }),
  async run(ctx, { flags }) {
    const local = localTemplate(ctx, flags.file, true);
    const rows = await diffTemplates(templateTarget(ctx, flags), local);
    if (ctx.json) {
      ctx.io.stdout(toJson({ file: local.path, regions: rows }));
    } else {
      ctx.io.stdout(renderTable(COLUMNS, rows));
      for (const r of rows) if (r.diff !== '') ctx.io.stdout(`\n${r.diff}`);
    }
    return rowsOutcome(rows, (r) => r.state === 'error');
  },
});
