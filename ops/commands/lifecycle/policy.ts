import * as z from 'zod';
import { LifecycleRefused, policyOf, REPROVISION_POLICIES } from '@global-iot/core/registry/index.js';
import { type CliCommand, defineCommand } from '../../lib/command.js';
import { dryRunFlag } from '../../lib/common-flags.js';
import { EXIT } from '../../lib/errors.js';
import { arg, defineArgs, defineFlags } from '../../lib/flags.js';
import { toJson } from '../../lib/output.js';
import { requireThingName } from '../../lib/requests.js';

/**
 * `policy <thing> [never|reset|migrate]`: shows or sets a device's reprovisioning policy. A device
 * without one follows the deployment's `lifecycle.reprovisionPolicy`; `never` is refused while a
 * move is in flight (it would strand the move half done).
 */
export const policy: CliCommand = defineCommand({
  name: 'policy',
  description: "show or set a device's reprovisioning policy: never, reset (a fresh thing in the new region) or migrate (attributes and shadow carried over)",
  args: defineArgs({
    thing: arg('<thing>', 'thing name', z.string()),
    policy: arg('[policy]', REPROVISION_POLICIES.join(' | '), z.enum(REPROVISION_POLICIES).optional()),
  }),
  flags: defineFlags({ dryRun: dryRunFlag('check the change, write nothing') }),
  async run(ctx, { args, flags: f }) {
    requireThingName(args.thing);
    const registry = ctx.registry();
    const record = await registry.get(args.thing);
    if (!record) throw new LifecycleRefused('unknown-thing', `thing ${args.thing} is not enrolled`);
    const before = { policy: policyOf(record, registry.lifecycle), source: record.reprovision_policy ? 'device' : 'default' } as const;
    let after: { policy: string; source: 'device' | 'default' } = before;
    if (args.policy !== undefined) {
      if (f.dryRun) {
        if (args.policy === 'never' && record.prov_status === 'moving') {
          throw new LifecycleRefused('move-in-flight', `thing ${args.thing} is already moving (to ${record.move_to ?? '?'}); never would strand the move`);
        }
      } else {
        await registry.setPolicy(args.thing, args.policy);
      }
      after = { policy: args.policy, source: 'device' };
    }
    const changed = after.policy !== before.policy || after.source !== before.source;
    if (ctx.json) {
      ctx.io.stdout(toJson({ thingName: args.thing, before, after, changed, dryRun: f.dryRun }));
    } else if (args.policy === undefined) {
      ctx.io.stdout(`${args.thing}: ${before.policy}${before.source === 'default' ? ' (the deployment default)' : ''}\n`);
    } else {
      const note = f.dryRun ? ' (dry run: nothing changed)' : changed ? '' : ' (not changed)';
      ctx.io.stdout(`${args.thing}: ${before.policy}${before.source === 'default' ? ' (default)' : ''} -> ${after.policy}${note}\n`);
    }
    return EXIT.ok;
  },
});
