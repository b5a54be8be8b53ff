import * as z from 'zod';
import { askToMove } from '@global-iot/core/lifecycle/requests.js';
import { NEAREST } from '@global-iot/core/registry/index.js';
import { type CliCommand, defineCommand } from '../../lib/command.js';
import { batchLimitFlag, dryRunFlag, rateFlag } from '../../lib/common-flags.js';
import { UsageError } from '../../lib/errors.js';
import { arg, defineArgs, defineFlags, flag } from '../../lib/flags.js';
import { moveFromRegion, requestDeps, requireThingName, rowOf } from '../../lib/requests.js';
import { batchProgress, printRequests } from './report.js';

export const toFlag = flag.string('--to <region|nearest>', 'where to: a region, or nearest (by the region policy when the device asks, never the region it leaves)', z.string().trim().min(1), {
  default: NEAREST,
});

export const moveReasonFlag = flag.string('--reason <text>', "why (kept in the device's history)", z.string().trim().min(1).max(500, 'at most 500 characters'), {
  default: 'moved by an operator',
});

export const move: CliCommand = defineCommand({
  name: 'move',
  description: 'ask a device, or the devices of a region, to reprovision in another region (two phases: the old certificate stays until the new one works)',
  args: defineArgs({ thing: arg('[thing]', 'thing name of one device', z.string().optional()) }),
  flags: defineFlags({
    to: toFlag,
    fromRegion: flag.string('--from-region <region>', 'every provisioned device of this region (instead of one thing)', z.string().optional()),
    limit: batchLimitFlag,
    rate: rateFlag,
    reason: moveReasonFlag,
    dryRun: dryRunFlag('check every device and say what would be asked, change nothing'),
  }),
  async run(ctx, { args, flags: f }) {
    if ((args.thing === undefined) === (f.fromRegion === undefined)) throw new UsageError('give a thing name or --from-region, one of them');
    const deps = requestDeps(ctx);
    if (args.thing !== undefined) {
      if (f.limit !== undefined || f.rate !== undefined) throw new UsageError('--limit and --rate are for --from-region');
      requireThingName(args.thing);
      const asked = await askToMove(deps, { thingName: args.thing, to: f.to, reason: f.reason, dryRun: f.dryRun });
      return printRequests(ctx, { kind: 'move', dryRun: f.dryRun, rows: [rowOf({ thingName: args.thing, asked })] });
    }
    const { progress, onItem } = batchProgress(ctx, f.dryRun ? 'checking' : 'asking to move');
    const items = await moveFromRegion(deps, {
      fromRegion: f.fromRegion ?? '',
      to: f.to,
      reason: f.reason,
      ratePerSecond: f.rate ?? ctx.config().config.lifecycle.moveRatePerSecond,
      ...(f.limit !== undefined ? { limit: f.limit } : {}),
      dryRun: f.dryRun,
      onItem,
    });
    progress.finish();
    return printRequests(ctx, { kind: 'move', dryRun: f.dryRun, rows: items.map(rowOf) });
  },
});
