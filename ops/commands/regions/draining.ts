import * as z from 'zod';
import type { CommandContext } from '../../lib/context.js';
import { EXIT, type ExitCode } from '../../lib/errors.js';
import { arg, defineArgs } from '../../lib/flags.js';
import { toJson } from '../../lib/output.js';
import { setDraining } from '../../lib/regions.js';

/** What `drain` and `undrain` share: the region argument, the change and its report. */

export const regionArgs = defineArgs({ region: arg('<region>', 'region code', z.string()) });

export async function changeDraining(
  ctx: CommandContext,
  region: string,
  draining: boolean,
  options: { dryRun: boolean; force: boolean },
): Promise<ExitCode> {
  const result = await setDraining({ config: ctx.config().config, registry: ctx.registry() }, region, draining, options);
  if (ctx.json) {
    ctx.io.stdout(toJson(result));
  } else {
    const what = result.changed ? `${result.dryRun ? 'would ' : ''}${result.action} ${region}` : `${region} already ${draining ? 'draining' : 'open'}`;
    ctx.io.stdout(`${what}; draining at run time: ${result.draining.length > 0 ? result.draining.join(', ') : 'none'}\n`);
  }
  return EXIT.ok;
}
