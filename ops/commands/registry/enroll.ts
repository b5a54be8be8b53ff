import * as z from 'zod';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import { REPROVISION_POLICIES } from '@global-iot/core/registry/index.js';
import { defineCommand, type CliCommand } from '../../lib/command.js';
import { dryRunFlag } from '../../lib/common-flags.js';
import type { CommandContext } from '../../lib/context.js';
import { detectFormat, readEnrollInput, validateEnrollment } from '../../lib/enroll-input.js';
import { type ExitCode, UsageError } from '../../lib/errors.js';
import { arg, defineArgs, defineFlags, flag, type FlagValues } from '../../lib/flags.js';
import { createProgress } from '../../lib/output.js';
import { readInput } from '../../lib/read-input.js';
import { enrollDevices, enrollOne } from '../../lib/registry.js';
import { printEnrollReport } from './enroll-report.js';

const flags = defineFlags({
  file: flag.string('--file <path>', "CSV or JSON file of devices ('-' for standard input)", z.string().min(1).optional()),
  format: flag.string('--format <format>', 'csv or json (default: from the file name or its first character)', z.enum(['csv', 'json']).optional()),
  publicKeyFile: flag.string('--public-key-file <path>', "PEM file of the device's own public key (one device)", z.string().min(1).optional()),
  pinnedRegion: flag.string('--pinned-region <region>', 'pin the device to this region (one device)', z.string().optional()),
  policy: flag.string('--policy <policy>', `reprovisioning policy: ${REPROVISION_POLICIES.join(' | ')} (one device; default lifecycle.reprovisionPolicy)`, z.enum(REPROVISION_POLICIES).optional()),
  attr: flag.repeatable('--attr <key=value>', 'an attribute (one device; repeatable)', z.string().regex(/^[^=]+=/, 'attributes are key=value')),
  allowPartial: flag.boolean('--allow-partial', 'enrol the valid rows even when some rows are invalid'),
  conditional: flag.boolean('--conditional', 'write each new device with a conditional put (slower; for concurrent enrolments)'),
  dryRun: dryRunFlag('validate and report what would change, write nothing'),
});
type EnrollFlags = FlagValues<typeof flags.flags>;

/** Many devices from a file: every row validated first, then written in batches. */
async function enrollFile(ctx: CommandContext, config: DeploymentConfig, file: string, f: EnrollFlags): Promise<ExitCode> {
  if (f.publicKeyFile !== undefined || f.pinnedRegion !== undefined || f.policy !== undefined || f.attr.length > 0) {
    throw new UsageError('--public-key-file, --pinned-region, --policy and --attr are for one device; put them in the file');
  }
  const text = readInput(ctx, file);
  const input = readEnrollInput(text, detectFormat(file, text, f.format), config);
  const progress = createProgress(ctx.io, f.dryRun ? 'checking' : 'enrolling', { now: ctx.now, quiet: ctx.quiet || input.valid.length < 1_000 });
  const report = await enrollDevices(ctx.registryTarget(), input, {
    dryRun: f.dryRun,
    allowPartial: f.allowPartial,
    conditional: f.conditional,
    onProgress: (done, total) => progress.update(done, total),
  });
  progress.finish();
  return printEnrollReport(ctx, report.result, report.invalid);
}

/** One device from the command line: always a conditional write. */
async function enrollThing(ctx: CommandContext, config: DeploymentConfig, thing: string, f: EnrollFlags): Promise<ExitCode> {
  const attributes = f.attr.length > 0 ? Object.fromEntries(f.attr.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)])) : undefined;
  const publicKey = f.publicKeyFile === undefined ? undefined : readInput(ctx, f.publicKeyFile);
  const enrollment = validateEnrollment(
    {
      thingName: thing,
      ...(publicKey !== undefined ? { publicKey } : {}),
      ...(f.pinnedRegion !== undefined ? { pinnedRegion: f.pinnedRegion } : {}),
      ...(attributes !== undefined ? { attributes } : {}),
      ...(f.policy !== undefined ? { reprovisionPolicy: f.policy } : {}),
    },
    config,
  );
  const report = await enrollOne(ctx.registryTarget(), enrollment, { dryRun: f.dryRun });
  return printEnrollReport(ctx, report, []);
}

export const enroll: CliCommand = defineCommand({
  name: 'enroll',
  description: 'enrol one device, or many from a CSV or JSON file (idempotent: re-runs report devices unchanged)',
  args: defineArgs({ thing: arg('[thing]', 'thing name of one device', z.string().optional()) }),
  flags,
  async run(ctx, { args, flags: f }) {
    const { config } = ctx.config();
    if (args.thing !== undefined && f.file !== undefined) throw new UsageError('give a thing name or --file, not both');
    if (f.file !== undefined) return enrollFile(ctx, config, f.file, f);
    if (args.thing === undefined) throw new UsageError('give a thing name or --file');
    return enrollThing(ctx, config, args.thing, f);
  },
});
