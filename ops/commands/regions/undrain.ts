import { defineCommand, type CliCommand } from '../../lib/command.js';
import { dryRunFlag } from '../../lib/common-flags.js';
import { defineFlags } from '../../lib/flags.js';
import { changeDraining, regionArgs } from './draining.js';

export const undrain: CliCommand = defineCommand({
  name: 'undrain',
  description: 'let a drained region take new devices again',
  args: regionArgs,
  flags: defineFlags({ dryRun: dryRunFlag('show the change, write nothing') }),
  run: (ctx, { args, flags }) => changeDraining(ctx, args.region, false, { dryRun: flags.dryRun, force: false }),
});
