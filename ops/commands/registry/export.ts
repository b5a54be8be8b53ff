import * as z from 'zod';
import type { DeviceRecord } from '@global-iot/core/registry/index.js';
import { defineCommand, type CliCommand } from '../../lib/command.js';
import { regionFilterFlag, statusFilterFlag } from '../../lib/common-flags.js';
import { formatCsv } from '../../lib/csv.js';
import { EXIT } from '../../lib/errors.js';
import { defineFlags, flag } from '../../lib/flags.js';
import { createProgress, toJson } from '../../lib/output.js';
import { fieldText, RECORD_FIELDS } from '../../lib/records.js';
import { allDevices } from '../../lib/registry.js';

const FORMATS = ['json', 'ndjson', 'csv'] as const;

/** JSON and CSV re-import with `enroll --file`; JSON lines suit log pipelines. */
function formatRecords(records: readonly DeviceRecord[], format: (typeof FORMATS)[number]): string {
  if (format === 'csv') return formatCsv(RECORD_FIELDS, records.map((r) => RECORD_FIELDS.map((f) => fieldText(r[f]))));
  if (format === 'ndjson') return records.map((r) => `${JSON.stringify(r)}\n`).join('');
  return toJson(records);
}

export const exportRecords: CliCommand = defineCommand({
  name: 'export',
  description: 'write every device record (JSON, JSON lines or CSV; CSV and JSON re-import with enroll --file)',
  flags: defineFlags({
    status: statusFilterFlag,
    region: regionFilterFlag,
    format: flag.string('--format <format>', FORMATS.join(' | '), z.enum(FORMATS), { default: 'json' }),
    out: flag.string('--out <file>', 'write to a file instead of standard output', z.string().min(1).optional()),
  }),
  async run(ctx, { flags }) {
    const filter = { ...(flags.status ? { status: flags.status } : {}), ...(flags.region ? { region: flags.region } : {}) };
    const records: DeviceRecord[] = [];
    const progress = createProgress(ctx.io, 'exporting', { now: ctx.now, quiet: ctx.quiet });
    for await (const record of allDevices(ctx.registryTarget(), filter)) {
      records.push(record);
      if (records.length % 1_000 === 0) progress.update(records.length, records.length);
    }
    progress.finish();
    const text = formatRecords(records, flags.format);
    if (flags.out !== undefined) {
      ctx.writeFile(ctx.resolvePath(flags.out), text);
      ctx.io.stderr(`exported ${records.length} devices to ${flags.out}\n`);
    } else {
      ctx.io.stdout(text);
    }
    return EXIT.ok;
  },
});
