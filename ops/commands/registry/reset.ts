import { defineCommand } from '../../lib/command.js';
import { resetDevice } from '../../lib/device-lifecycle.js';
import { defineFlags, flag } from '../../lib/flags.js';
import { changeDryRunFlag, lifecycleDeps, printLifecycle, reasonFlag, thingArgs } from './status-change.js';

export const reset = defineCommand({
  name: 'reset',
  description: 'return a device to unprovisioned (it bootstraps again), recording the reason; --revoke when its board was replaced',
  args: thingArgs,
  flags: defineFlags({
    reason: reasonFlag,
    revoke: flag.boolean(
      '--revoke',
      'first revoke its certificates in every region and detach them (and their policies) from the thing, so the new board can be provisioned; also releases a blocked device',
    ),
    dryRun: changeDryRunFlag,
  }),
  async run(ctx, { args, flags: f }) {
    return printLifecycle(ctx, await resetDevice(lifecycleDeps(ctx), args.thing, f.reason, { dryRun: f.dryRun, revoke: f.revoke }));
  },
});
