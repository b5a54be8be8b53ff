import { defineCommand, type CliCommand } from '../../lib/command.js';
import { dryRunFlag } from '../../lib/common-flags.js';
import { defineFlags, flag } from '../../lib/flags.js';
import { changeDraining, regionArgs } from './draining.js';

export const drain: CliCommand = defineCommand({
  name: 'drain',
  description: 'send no new devices to a region (the bootstrap picks this up within about 10 s)',
  args: regionArgs,
  flags: defineFlags({
    dryRun: dryRunFlag('show the change, write nothing'),
    force: flag.boolean('--force', 'drain even the last open region'),
  }),
  run: (ctx, { args, flags }) => changeDraining(ctx, args.region, true, flags),
});
