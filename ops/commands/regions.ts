import type { Command } from 'commander';
import * as z from 'zod';
import { type Bind, outcomeCode } from '../lib/command.js';
import { EXIT } from '../lib/errors.js';
import { parseFlags } from '../lib/options.js';
import { renderTable, toJson } from '../lib/output.js';
import { regionStatus, type RegionStatusRow, setDraining } from '../lib/regions.js';

export function regionCommands(program: Command, bind: Bind): void {
  const regions = program.command('regions').description('the regions devices are provisioned into');

  regions
    .command('status')
    .description('each region: enabled, draining, endpoint reachable, template versions')
    .action(
      bind(async (ctx) => {
        const rows = await regionStatus({ config: ctx.config().config, registry: ctx.registry(), iot: (r) => ctx.iot(r), timeoutMs: ctx.timeoutMs });
        if (ctx.json) {
          ctx.io.stdout(toJson({ regions: rows }));
        } else {
          ctx.io.stdout(
            renderTable(
              [
                { header: 'REGION', value: (r: RegionStatusRow) => `${r.region}${r.isDefault ? ' (default)' : ''}` },
                { header: 'ENABLED', value: (r: RegionStatusRow) => r.enabled },
                { header: 'DRAINING', value: (r: RegionStatusRow) => r.draining },
                { header: 'REACHABLE', value: (r: RegionStatusRow) => r.reachable },
                { header: 'ENDPOINT', value: (r: RegionStatusRow) => r.endpoint },
                { header: 'TEMPLATE', value: (r: RegionStatusRow) => (r.template.exists ? `v${r.template.defaultVersion ?? '?'} of ${r.template.versions ?? '?'}${r.template.enabled ? '' : ' (disabled)'}` : 'absent') },
                { header: 'ERROR', value: (r: RegionStatusRow) => r.error },
              ],
              rows,
            ),
          );
        }
        const failed = rows.filter((r) => r.enabled && !r.reachable).length;
        return outcomeCode(rows.length - failed, failed);
      }),
    );

  for (const draining of [true, false]) {
    const name = draining ? 'drain' : 'undrain';
    const command = regions
      .command(name)
      .description(
        draining
          ? 'send no new devices to a region (the bootstrap picks this up within about 10 s)'
          : 'let a drained region take new devices again',
      )
      .argument('<region>', 'region code')
      .option('--dry-run', 'show the change, write nothing');
    if (draining) command.option('--force', 'drain even the last open region');
    command.action(
        bind(async (ctx, args, raw) => {
          const flags = parseFlags(z.object({ dryRun: z.boolean().optional(), force: z.boolean().optional() }), raw);
          const region = z.string().parse(args[0]);
          const result = await setDraining({ config: ctx.config().config, registry: ctx.registry() }, region, draining, {
            dryRun: flags.dryRun ?? false,
            force: flags.force ?? false,
          });
          if (ctx.json) {
            ctx.io.stdout(toJson(result));
          } else {
            const what = result.changed ? `${result.dryRun ? 'would ' : ''}${name} ${region}` : `${region} already ${draining ? 'draining' : 'open'}`;
            ctx.io.stdout(`${what}; draining at run time: ${result.draining.length > 0 ? result.draining.join(', ') : 'none'}\n`);
          }
          return EXIT.ok;
        }),
      );
  }
}
