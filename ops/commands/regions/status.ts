import { defineCommand, type CliCommand, rowsOutcome } from '../../lib/command.js';
import { renderTable, toJson } from '../../lib/output.js';
import { regionStatus, type RegionStatusRow } from '../../lib/regions.js';

function templateCell(t: RegionStatusRow['template']): string {
  return t.exists ? `v${t.defaultVersion ?? '?'} of ${t.versions ?? '?'}${t.enabled ? '' : ' (disabled)'}` : 'absent';
}

const COLUMNS = [
  { header: 'REGION', value: (r: RegionStatusRow) => `${r.region}${r.isDefault ? ' (default)' : ''}` },
  { header: 'ENABLED', value: (r: RegionStatusRow) => r.enabled },
  { header: 'DRAINING', value: (r: RegionStatusRow) => r.draining },
  { header: 'REACHABLE', value: (r: RegionStatusRow) => r.reachable },
  { header: 'ENDPOINT', value: (r: RegionStatusRow) => r.endpoint },
  { header: 'TEMPLATE', value: (r: RegionStatusRow) => templateCell(r.template) },
  { header: 'ERROR', value: (r: RegionStatusRow) => r.error },
];

export const regionsStatus: CliCommand = defineCommand({
  name: 'status',
  description: 'each region: enabled, draining, endpoint reachable, template versions',
  async run(ctx) {
    const rows = await regionStatus({ config: ctx.config().config, registry: ctx.registry(), iot: (r) => ctx.iot(r), timeoutMs: ctx.timeoutMs });
    ctx.io.stdout(ctx.json ? toJson({ regions: rows }) : renderTable(COLUMNS, rows));
    return rowsOutcome(rows, (r) => r.enabled && !r.reachable);
  },
});
