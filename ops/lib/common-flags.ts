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
