import * as z from 'zod';
import type { DeviceRecord } from '@global-iot/core/registry/index.js';
import { defineCommand, type CliCommand } from '../../lib/command.js';
import { regionFilterFlag, statusFilterFlag } from '../../lib/common-flags.js';
import { EXIT } from '../../lib/errors.js';
import { defineFlags, flag } from '../../lib/flags.js';
import { renderTable, toJson } from '../../lib/output.js';
import { listDevices } from '../../lib/registry.js';

const DEVICE_COLUMNS = [
  { header: 'THING', value: (d: DeviceRecord) => d.thing_name },
  { header: 'STATUS', value: (d: DeviceRecord) => d.prov_status },
  { header: 'REGION', value: (d: DeviceRecord) => d.aws_region },
  { header: 'PINNED', value: (d: DeviceRecord) => d.pinned_region },
  { header: 'UPDATED', value: (d: DeviceRecord) => d.updated_at },
  { header: 'REASON', value: (d: DeviceRecord) => d.status_reason },
];

export const list: CliCommand = defineCommand({
  name: 'list',
  description: 'list devices, filtered by status and region, one page at a time',
  flags: defineFlags({
    status: statusFilterFlag,
    region: regionFilterFlag,
    limit: flag.string('--limit <n>', 'devices per page (1 to 1000)', z.coerce.number().int().min(1).max(1_000), { default: '50' }),
    nextToken: flag.string('--next-token <token>', 'the token the previous page printed', z.string().min(1).optional()),
    all: flag.boolean('--all', 'every page'),
  }),
  async run(ctx, { flags }) {
    const filter = { ...(flags.status ? { status: flags.status } : {}), ...(flags.region ? { region: flags.region } : {}) };
    const items: DeviceRecord[] = [];
    let nextToken = flags.nextToken;
    do {
      const page = await listDevices(ctx.registryTarget(), { ...filter, limit: flags.limit, ...(nextToken ? { nextToken } : {}) });
      items.push(...page.items);
      nextToken = page.nextToken;
    } while (flags.all && nextToken);
    if (ctx.json) {
      ctx.io.stdout(toJson({ items, ...(nextToken ? { nextToken } : {}) }));
    } else {
      ctx.io.stdout(renderTable(DEVICE_COLUMNS, items));
      if (nextToken) ctx.io.stderr(`more devices: --next-token ${nextToken}\n`);
    }
    return EXIT.ok;
  },
});
