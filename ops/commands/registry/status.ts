import * as z from 'zod';
import type { DeviceRecord } from '@global-iot/core/registry/index.js';
import { defineCommand, type CliCommand } from '../../lib/command.js';
import { EXIT } from '../../lib/errors.js';
import { arg, defineArgs } from '../../lib/flags.js';
import { renderTable, toJson } from '../../lib/output.js';
import { fieldText, RECORD_FIELDS } from '../../lib/records.js';
import { deviceStatus } from '../../lib/registry.js';

interface FieldRow {
  readonly field: string;
  readonly value: string;
}

/** The record as FIELD / VALUE rows, absent fields left out. */
function recordRows(record: DeviceRecord): FieldRow[] {
  return RECORD_FIELDS.filter((f) => record[f] !== undefined).map((field) => ({ field, value: fieldText(record[field]) }));
}

export const status: CliCommand = defineCommand({
  name: 'status',
  description: "show one device's registry record",
  args: defineArgs({ thing: arg('<thing>', 'thing name', z.string()) }),
  async run(ctx, { args }) {
    const record = await deviceStatus(ctx.registryTarget(), args.thing);
    ctx.io.stdout(
      ctx.json
        ? toJson(record)
        : renderTable(
            [
              { header: 'FIELD', value: (r: FieldRow) => r.field },
              { header: 'VALUE', value: (r: FieldRow) => r.value },
            ],
            recordRows(record),
          ),
    );
    return EXIT.ok;
  },
});
