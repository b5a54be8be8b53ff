import * as z from 'zod';
import { regionCode } from '@global-iot/core/config.js';
import { PROV_STATUSES } from '@global-iot/core/registry/index.js';
import { flag } from './flags.js';

/** Flags several commands share, declared here once. */

/** Every command that writes takes it; each says in its own words what it shows instead. */
export const dryRunFlag = (description: string) => flag.boolean('--dry-run', description);

/** `a,b , c` to ['a', 'b', 'c']. */
export function splitList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** The regions a regional command works on; absent or empty: every enabled region. */
export const regionsFlag = flag.string('--regions <a,b>', 'only these enabled regions', z.string().optional().transform(splitList));

/** Filters of `list` and `export`. */
export const statusFilterFlag = flag.string('--status <status>', PROV_STATUSES.join(' | '), z.enum(PROV_STATUSES).optional());
export const regionFilterFlag = flag.string('--region <region>', 'the region devices are assigned to or provisioned in', regionCode.optional());

/** `5`, `5/s` or `300/min`: devices per second. */
const RATE = /^(\d+(?:\.\d+)?)\s*(?:\/\s*(s|min))?$/;
export const rateSchema = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined) return undefined;
    const match = RATE.exec(value.trim());
    const perSecond = match?.[1] !== undefined ? Number(match[1]) / (match[2] === 'min' ? 60 : 1) : Number.NaN;
    if (!(perSecond > 0 && perSecond <= 1_000)) {
      ctx.addIssue({ code: 'custom', message: 'a rate such as 5, 5/s or 300/min, above 0 and at most 1000/s' });
      return z.NEVER;
    }
    return perSecond;
  });

/** How fast a batch asks its devices (default: the deployment's `lifecycle.moveRatePerSecond`). */
export const rateFlag = flag.string('--rate <n/s>', 'devices asked per second (5, 5/s, 300/min; default lifecycle.moveRatePerSecond)', rateSchema);

/** How many devices a batch asks at most. */
export const batchLimitFlag = flag.string('--limit <n>', 'ask at most this many devices', z.coerce.number().int().min(1).optional());
