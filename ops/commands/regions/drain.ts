import * as z from 'zod';
import { NEAREST } from '@global-iot/core/registry/index.js';
import { defineCommand, type CliCommand } from '../../lib/command.js';
import { batchLimitFlag, dryRunFlag, rateFlag } from '../../lib/common-flags.js';
import type { CommandContext } from '../../lib/context.js';
import { type ExitCode, UsageError } from '../../lib/errors.js';
import { defineFlags, flag, type FlagValues } from '../../lib/flags.js';
import { setDraining } from '../../lib/regions.js';
import { checkBatchTarget, checkSourceRegion, moveFromRegion, requestDeps, rowOf } from '../../lib/requests.js';
import { toFlag } from '../lifecycle/move.js';
import { batchProgress, printRequests } from '../lifecycle/report.js';
import { changeDraining, regionArgs } from './draining.js';

const flags = defineFlags({
  dryRun: dryRunFlag('show the change (and with --migrate every device it would ask), write nothing'),
  force: flag.boolean('--force', 'drain even the last open region'),
  migrate: flag.boolean('--migrate', "also ask the region's devices to move (each by its reprovisioning policy), at --rate"),
  to: toFlag,
  rate: rateFlag,
  limit: batchLimitFlag,
  reason: flag.string('--reason <text>', "with --migrate: why (kept in each device's history; default: drain <region>)", z.string().trim().min(1).max(500).optional()),
});

/**
 * `regions drain R --migrate`: the region takes no new devices, then its devices are asked to move
 * at a bounded rate (`iot-ops move --from-region R`). The target is checked before the drain, so
 * a bad one changes nothing.
 */
async function drainAndMigrate(ctx: CommandContext, region: string, f: FlagValues<typeof flags.flags>): Promise<ExitCode> {
  const deps = requestDeps(ctx);
  checkSourceRegion(region);
  await checkBatchTarget(deps, f.to, region);
  const drained = await setDraining({ config: ctx.config().config, registry: deps.registry }, region, true, { dryRun: f.dryRun, force: f.force });
  if (!ctx.json) {
    const what = drained.changed ? `${drained.dryRun ? 'would ' : ''}drain ${region}` : `${region} already draining`;
    ctx.io.stdout(`${what}; draining at run time: ${drained.draining.join(', ') || 'none'}\n`);
  }
  const { progress, onItem } = batchProgress(ctx, f.dryRun ? 'checking' : 'asking to move');
  const items = await moveFromRegion(deps, {
    fromRegion: region,
    to: f.to,
    reason: f.reason ?? `drain ${region}`,
    ratePerSecond: f.rate ?? ctx.config().config.lifecycle.moveRatePerSecond,
    ...(f.limit !== undefined ? { limit: f.limit } : {}),
    dryRun: f.dryRun,
    onItem,
  });
  progress.finish();
  return printRequests(ctx, { kind: 'move', dryRun: f.dryRun, rows: items.map(rowOf), extra: { drain: drained } });
}

export const drain: CliCommand = defineCommand({
  name: 'drain',
  description: 'send no new devices to a region (the bootstrap picks this up within about 10 s); --migrate also moves its devices out',
  args: regionArgs,
  flags,
  run: (ctx, { args, flags: f }) => {
    if (!f.migrate) {
      if (f.to !== NEAREST || f.rate !== undefined || f.limit !== undefined || f.reason !== undefined) throw new UsageError('--to, --rate, --limit and --reason are for --migrate');
      return changeDraining(ctx, args.region, true, f);
    }
    return drainAndMigrate(ctx, args.region, f);
  },
});
