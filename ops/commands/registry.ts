import type { Command } from 'commander';
import * as z from 'zod';
import { type DeviceRecord, deviceRecordSchema, PROV_STATUSES } from '@global-iot/core/registry/index.js';
import { type Bind, outcomeCode } from '../lib/command.js';
import type { CommandContext } from '../lib/context.js';
import { formatCsv } from '../lib/csv.js';
import { detectFormat, readEnrollInput, validateEnrollment, type RowProblem } from '../lib/enroll-input.js';
import { EXIT, type ExitCode, UsageError } from '../lib/errors.js';
import { parseFlags } from '../lib/options.js';
import { createProgress, renderTable, toJson } from '../lib/output.js';
import {
  allDevices,
  changeStatus,
  deviceStatus,
  enrollDevices,
  enrollOne,
  listDevices,
  type StatusAction,
} from '../lib/registry.js';
import type { BulkEnrollReport, BulkItemResult } from '@global-iot/core/registry/index.js';

const reasonSchema = z.string().trim().min(1, 'a reason is required').max(500, 'at most 500 characters');
const regionFlag = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region code');

const enrollFlags = z.object({
  file: z.string().min(1).optional(),
  format: z.enum(['csv', 'json']).optional(),
  publicKeyFile: z.string().min(1).optional(),
  pinnedRegion: z.string().optional(),
  attr: z.array(z.string().regex(/^[^=]+=/, 'attributes are key=value')).optional(),
  allowPartial: z.boolean().optional(),
  conditional: z.boolean().optional(),
  dryRun: z.boolean().optional(),
});

function printEnrollReport(ctx: CommandContext, report: BulkEnrollReport | undefined, invalid: readonly RowProblem[]): ExitCode {
  const counts = { created: 0, unchanged: 0, conflict: 0, failed: 0, ...report?.counts, invalid: invalid.length };
  const dryRun = report?.dryRun ?? false;
  const problems: BulkItemResult[] = report?.results.filter((r) => r.outcome === 'conflict' || r.outcome === 'failed') ?? [];
  const written = report !== undefined;
  if (ctx.json) {
    ctx.io.stdout(toJson({ written: written && !dryRun, dryRun, counts, invalid, results: report?.results ?? [] }));
  } else {
    if (invalid.length > 0) {
      ctx.io.stdout(
        renderTable(
          [
            { header: 'ROW', value: (r: RowProblem) => r.where },
            { header: 'THING', value: (r: RowProblem) => r.thingName },
            { header: 'PROBLEM', value: (r: RowProblem) => r.problems.join('; ') },
          ],
          invalid,
        ),
      );
    }
    if (problems.length > 0) {
      ctx.io.stdout(
        renderTable(
          [
            { header: 'THING', value: (r: BulkItemResult) => r.thingName },
            { header: 'OUTCOME', value: (r: BulkItemResult) => r.outcome },
            { header: 'REASON', value: (r: BulkItemResult) => r.reason },
          ],
          problems,
        ),
      );
    }
    const summary = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
    const note = !written ? ' (nothing written: fix the rows or pass --allow-partial)' : dryRun ? ' (dry run: nothing written)' : '';
    ctx.io.stdout(`${dryRun ? 'would enrol' : 'enrolled'}: ${summary}${note}\n`);
  }
  if (!written) return EXIT.usage;
  return outcomeCode(counts.created + counts.unchanged, counts.conflict + counts.failed + counts.invalid);
}

function readStdinOrFile(ctx: CommandContext, path: string): string {
  try {
    return path === '-' ? ctx.readStdin() : ctx.readFile(ctx.resolvePath(path));
  } catch (cause) {
    throw new UsageError(`cannot read ${path}`, { cause });
  }
}

const RECORD_FIELDS = Object.keys(deviceRecordSchema.shape) as (keyof DeviceRecord)[];

function recordRows(record: DeviceRecord): { field: string; value: string }[] {
  return RECORD_FIELDS.filter((f) => record[f] !== undefined).map((field) => {
    const value = record[field];
    return { field, value: typeof value === 'object' ? JSON.stringify(value) : String(value) };
  });
}

const DEVICE_COLUMNS = [
  { header: 'THING', value: (d: DeviceRecord) => d.thing_name },
  { header: 'STATUS', value: (d: DeviceRecord) => d.prov_status },
  { header: 'REGION', value: (d: DeviceRecord) => d.aws_region },
  { header: 'PINNED', value: (d: DeviceRecord) => d.pinned_region },
  { header: 'UPDATED', value: (d: DeviceRecord) => d.updated_at },
  { header: 'REASON', value: (d: DeviceRecord) => d.status_reason },
];

export function registryCommands(program: Command, bind: Bind): void {
  program
    .command('enroll')
    .description('enrol one device, or many from a CSV or JSON file (idempotent: re-runs report devices unchanged)')
    .argument('[thing]', 'thing name of one device')
    .option('--file <path>', "CSV or JSON file of devices ('-' for standard input)")
    .option('--format <format>', 'csv or json (default: from the file name or its first character)')
    .option('--public-key-file <path>', "PEM file of the device's own public key (one device)")
    .option('--pinned-region <region>', 'pin the device to this region (one device)')
    .option('--attr <key=value>', 'an attribute (one device; repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--allow-partial', 'enrol the valid rows even when some rows are invalid')
    .option('--conditional', 'write each new device with a conditional put (slower; for concurrent enrolments)')
    .option('--dry-run', 'validate and report what would change, write nothing')
    .action(
      bind(async (ctx, args, raw) => {
        const flags = parseFlags(enrollFlags, raw);
        const thing = z.string().optional().parse(args[0]);
        const { config } = ctx.config();
        if (thing !== undefined && flags.file !== undefined) throw new UsageError('give a thing name or --file, not both');
        if (thing === undefined && flags.file === undefined) throw new UsageError('give a thing name or --file');
        if (flags.file !== undefined) {
          if (flags.publicKeyFile !== undefined || flags.pinnedRegion !== undefined || (flags.attr?.length ?? 0) > 0) {
            throw new UsageError('--public-key-file, --pinned-region and --attr are for one device; put them in the file');
          }
          const text = readStdinOrFile(ctx, flags.file);
          const input = readEnrollInput(text, detectFormat(flags.file, text, flags.format), config);
          const progress = createProgress(ctx.io, flags.dryRun ? 'checking' : 'enrolling', { now: ctx.now, quiet: ctx.quiet || input.valid.length < 1_000 });
          const report = await enrollDevices(ctx.registryTarget(), input, {
            dryRun: flags.dryRun ?? false,
            allowPartial: flags.allowPartial ?? false,
            conditional: flags.conditional ?? false,
            onProgress: (done, total) => progress.update(done, total),
          });
          progress.finish();
          return printEnrollReport(ctx, report.result, report.invalid);
        }
        const attributes = flags.attr && flags.attr.length > 0 ? Object.fromEntries(flags.attr.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)])) : undefined;
        const publicKey = flags.publicKeyFile === undefined ? undefined : readStdinOrFile(ctx, flags.publicKeyFile);
        const enrollment = validateEnrollment(
          {
            thingName: thing,
            ...(publicKey !== undefined ? { publicKey } : {}),
            ...(flags.pinnedRegion !== undefined ? { pinnedRegion: flags.pinnedRegion } : {}),
            ...(attributes !== undefined ? { attributes } : {}),
          },
          config,
        );
        const report = await enrollOne(ctx.registryTarget(), enrollment, { dryRun: flags.dryRun ?? false });
        return printEnrollReport(ctx, report, []);
      }),
    );

  program
    .command('status')
    .description("show one device's registry record")
    .argument('<thing>', 'thing name')
    .action(
      bind(async (ctx, args) => {
        const record = await deviceStatus(ctx.registryTarget(), z.string().parse(args[0]));
        ctx.io.stdout(
          ctx.json
            ? toJson(record)
            : renderTable(
                [
                  { header: 'FIELD', value: (r: { field: string }) => r.field },
                  { header: 'VALUE', value: (r: { value: string }) => r.value },
                ],
                recordRows(record),
              ),
        );
        return EXIT.ok;
      }),
    );

  const listFlags = z.object({
    status: z.enum(PROV_STATUSES).optional(),
    region: regionFlag.optional(),
    limit: z.coerce.number().int().min(1).max(1_000).default(50),
    nextToken: z.string().min(1).optional(),
    all: z.boolean().optional(),
  });
  program
    .command('list')
    .description('list devices, filtered by status and region, one page at a time')
    .option('--status <status>', PROV_STATUSES.join(' | '))
    .option('--region <region>', 'the region devices are assigned to or provisioned in')
    .option('--limit <n>', 'devices per page (1 to 1000)', '50')
    .option('--next-token <token>', 'the token the previous page printed')
    .option('--all', 'every page')
    .action(
      bind(async (ctx, _args, raw) => {
        const flags = parseFlags(listFlags, raw);
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
      }),
    );

  const statusChange = (name: StatusAction, description: string): void => {
    program
      .command(name)
      .description(description)
      .argument('<thing>', 'thing name')
      .requiredOption('--reason <text>', 'why (recorded on the device)')
      .option('--dry-run', 'show the change, write nothing')
      .action(
        bind(async (ctx, args, raw) => {
          const flags = parseFlags(z.object({ reason: reasonSchema, dryRun: z.boolean().optional() }), raw);
          const change = await changeStatus(ctx.registryTarget(), name, z.string().parse(args[0]), flags.reason, { dryRun: flags.dryRun ?? false });
          if (ctx.json) ctx.io.stdout(toJson(change));
          else ctx.io.stdout(`${change.thingName}: ${change.from} -> ${change.to}${change.dryRun ? ' (dry run: nothing written)' : ''}\n`);
          return EXIT.ok;
        }),
      );
  };
  statusChange('reset', 'return a device to unprovisioned (it bootstraps again), recording the reason');
  statusChange('block', 'refuse a device at the bootstrap and the hook, recording the reason');
  statusChange('unblock', 'return a blocked device to unprovisioned, recording the reason');

  const exportFlags = z.object({
    status: z.enum(PROV_STATUSES).optional(),
    region: regionFlag.optional(),
    format: z.enum(['json', 'ndjson', 'csv']).default('json'),
    out: z.string().min(1).optional(),
  });
  program
    .command('export')
    .description('write every device record (JSON, JSON lines or CSV; CSV and JSON re-import with enroll --file)')
    .option('--status <status>', PROV_STATUSES.join(' | '))
    .option('--region <region>', 'the region devices are assigned to or provisioned in')
    .option('--format <format>', 'json | ndjson | csv', 'json')
    .option('--out <file>', 'write to a file instead of standard output')
    .action(
      bind(async (ctx, _args, raw) => {
        const flags = parseFlags(exportFlags, raw);
        const filter = { ...(flags.status ? { status: flags.status } : {}), ...(flags.region ? { region: flags.region } : {}) };
        const records: DeviceRecord[] = [];
        const progress = createProgress(ctx.io, 'exporting', { now: ctx.now, quiet: ctx.quiet });
        for await (const record of allDevices(ctx.registryTarget(), filter)) {
          records.push(record);
          if (records.length % 1_000 === 0) progress.update(records.length, records.length);
        }
        progress.finish();
        let text: string;
        if (flags.format === 'csv') {
          const cell = (v: unknown): string => (v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
          text = formatCsv(RECORD_FIELDS, records.map((r) => RECORD_FIELDS.map((f) => cell(r[f]))));
        } else if (flags.format === 'ndjson') {
          text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
        } else {
          text = toJson(records);
        }
        if (flags.out !== undefined) {
          ctx.writeFile(ctx.resolvePath(flags.out), text);
          ctx.io.stderr(`exported ${records.length} devices to ${flags.out}\n`);
        } else {
          ctx.io.stdout(text);
        }
        return EXIT.ok;
      }),
    );
}
