import * as z from 'zod';
import { askToRotate } from '@global-iot/core/lifecycle/requests.js';
import { type CliCommand, defineCommand } from '../../lib/command.js';
import { batchLimitFlag, dryRunFlag, rateFlag } from '../../lib/common-flags.js';
import { UsageError } from '../../lib/errors.js';
import { arg, defineArgs, defineFlags, flag } from '../../lib/flags.js';
import { requestDeps, requireThingName, rotateMany, rowOf } from '../../lib/requests.js';
import { batchProgress, printRequests } from './report.js';

export const rotate: CliCommand = defineCommand({
  name: 'rotate',
  description: 'ask a device, or every provisioned device, to rotate its certificate (the old one is revoked once the new one works)',
  args: defineArgs({ thing: arg('[thing]', 'thing name of one device', z.string().optional()) }),
  flags: defineFlags({
    all: flag.boolean('--all', 'every provisioned device (of --region, when given)'),
    region: flag.string('--region <region>', 'with --all: only the devices provisioned in this region', z.string().optional()),
    limit: batchLimitFlag,
    rate: rateFlag,
    dryRun: dryRunFlag('check every device and say what would be asked, change nothing'),
  }),
  async run(ctx, { args, flags: f }) {
    if ((args.thing === undefined) === !f.all) throw new UsageError('give a thing name or --all, one of them');
    const deps = requestDeps(ctx);
    if (args.thing !== undefined) {
      if (f.region !== undefined || f.limit !== undefined || f.rate !== undefined) throw new UsageError('--region, --limit and --rate are for --all');
      requireThingName(args.thing);
      const asked = await askToRotate(deps, { thingName: args.thing, dryRun: f.dryRun });
      return printRequests(ctx, { kind: 'rotate', dryRun: f.dryRun, rows: [rowOf({ thingName: args.thing, asked })] });
    }
    const { progress, onItem } = batchProgress(ctx, f.dryRun ? 'checking' : 'asking to rotate');
    const items = await rotateMany(deps, {
      ...(f.region !== undefined ? { region: f.region } : {}),
      ratePerSecond: f.rate ?? ctx.config().config.lifecycle.moveRatePerSecond,
      ...(f.limit !== undefined ? { limit: f.limit } : {}),
      dryRun: f.dryRun,
      onItem,
    });
    progress.finish();
    return printRequests(ctx, { kind: 'rotate', dryRun: f.dryRun, rows: items.map(rowOf) });
  },
});
