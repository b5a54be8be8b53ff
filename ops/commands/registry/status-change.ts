import * as z from 'zod';
import { defineCommand, type CliCommand } from '../../lib/command.js';
import { dryRunFlag } from '../../lib/common-flags.js';
import { EXIT } from '../../lib/errors.js';
import { arg, defineArgs, defineFlags, flag } from '../../lib/flags.js';
import { toJson } from '../../lib/output.js';
import { changeStatus, type StatusAction } from '../../lib/registry.js';

const flags = defineFlags({
  reason: flag.string(
    '--reason <text>',
    'why (recorded on the device)',
    z.string().trim().min(1, 'a reason is required').max(500, 'at most 500 characters'),
    { required: true },
  ),
  dryRun: dryRunFlag('show the change, write nothing'),
});

/** `reset`, `block` and `unblock`: one status change of one device, with the operator's reason. */
export function statusChangeCommand(action: StatusAction, description: string): CliCommand {
  return defineCommand({
    name: action,
    description,
    args: defineArgs({ thing: arg('<thing>', 'thing name', z.string()) }),
    flags,
    async run(ctx, { args, flags: f }) {
      const change = await changeStatus(ctx.registryTarget(), action, args.thing, f.reason, { dryRun: f.dryRun });
      if (ctx.json) ctx.io.stdout(toJson(change));
      else ctx.io.stdout(`${change.thingName}: ${change.from} -> ${change.to}${change.dryRun ? ' (dry run: nothing written)' : ''}\n`);
      return EXIT.ok;
    },
  });
}
