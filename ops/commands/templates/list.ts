import { defineCommand, type CliCommand, rowsOutcome } from '../../lib/command.js';
import { regionsFlag } from '../../lib/common-flags.js';
import { defineFlags } from '../../lib/flags.js';
import { renderTable, toJson } from '../../lib/output.js';
import { listTemplates, type TemplateListRow } from '../../lib/templates.js';
import { fileFlag, localTemplate, nameFlag, templateTarget } from './target.js';

const COLUMNS = [
  { header: 'REGION', value: (r: TemplateListRow) => r.region },
  { header: 'EXISTS', value: (r: TemplateListRow) => r.exists },
  { header: 'ENABLED', value: (r: TemplateListRow) => r.enabled },
  { header: 'DEFAULT', value: (r: TemplateListRow) => r.defaultVersion },
  { header: 'VERSIONS', value: (r: TemplateListRow) => r.versions },
  { header: 'DRIFT', value: (r: TemplateListRow) => r.drift },
  { header: 'ERROR', value: (r: TemplateListRow) => r.error },
];

export const templatesList: CliCommand = defineCommand({
  name: 'list',
  description: 'the template in each region: default version, versions, drift from the local file',
  flags: defineFlags({
    name: nameFlag,
    file: fileFlag('compare with this file (default: cdk.json infra.templateFile)'),
    regions: regionsFlag,
  }),
  async run(ctx, { flags }) {
    const target = templateTarget(ctx, flags);
    const rows = await listTemplates(target, localTemplate(ctx, flags.file, false));
    ctx.io.stdout(ctx.json ? toJson({ templateName: target.templateName, regions: rows }) : renderTable(COLUMNS, rows));
    return rowsOutcome(rows, (r) => r.error !== undefined);
  },
});
