import type { Command } from 'commander';
import * as z from 'zod';
import { isValidTemplateName } from '@global-iot/core/template/index.js';
import { type Bind, outcomeCode } from '../lib/command.js';
import type { CommandContext } from '../lib/context.js';
import { EXIT, UsageError } from '../lib/errors.js';
import { parseFlags, splitList } from '../lib/options.js';
import { renderTable, toJson } from '../lib/output.js';
import { chooseRegions } from '../lib/regional.js';
import {
  type DeployRow,
  deployTemplate,
  diffTemplates,
  listTemplates,
  loadTemplateFile,
  type LocalTemplate,
  rollbackTemplate,
  type RollbackRow,
  type TemplateDiffRow,
  type TemplateListRow,
  type TemplateTarget,
} from '../lib/templates.js';

const nameFlag = z.string().refine(isValidTemplateName, 'template names are 1-36 characters of [0-9A-Za-z_-]').optional();
const regionsFlag = z.union([z.string(), z.array(z.string())]).optional();
const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/{}-]{1,512}$/, 'not an IAM role ARN');
const lambdaArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:lambda:([a-z0-9-]+|\{region\}):\d{12}:function:[A-Za-z0-9_{}-]{1,64}(:[A-Za-z0-9_$-]+)?$/, 'not a Lambda function ARN');

function target(ctx: CommandContext, flags: { name?: string | undefined; regions?: string | string[] | undefined }): TemplateTarget {
  const { config } = ctx.config();
  return {
    iot: (region) => ctx.iot(region),
    regions: chooseRegions(config.regions, splitList(flags.regions)),
    templateName: flags.name ?? config.templateName,
    timeoutMs: ctx.timeoutMs,
  };
}

/** The template file: `--file`, else the one the CDK app deploys (cdk.json `infra.templateFile`). */
function localTemplate(ctx: CommandContext, file: string | undefined, required: boolean): LocalTemplate | undefined {
  const path = file !== undefined ? ctx.resolvePath(file) : ctx.config().templateFile;
  if (path === undefined) {
    if (required) throw new UsageError('give the template with --file (cdk.json names no infra.templateFile)');
    return undefined;
  }
  return loadTemplateFile(path, ctx.readFile);
}

export function templateCommands(program: Command, bind: Bind): void {
  const templates = program.command('templates').description('the fleet provisioning template in every region');

  templates
    .command('list')
    .description('the template in each region: default version, versions, drift from the local file')
    .option('--name <template>', 'template name (default: the configuration)')
    .option('--file <path>', 'compare with this file (default: cdk.json infra.templateFile)')
    .option('--regions <a,b>', 'only these enabled regions')
    .action(
      bind(async (ctx, _args, raw) => {
        const flags = parseFlags(z.object({ name: nameFlag, file: z.string().optional(), regions: regionsFlag }), raw);
        const t = target(ctx, flags);
        const rows = await listTemplates(t, localTemplate(ctx, flags.file, false));
        if (ctx.json) {
          ctx.io.stdout(toJson({ templateName: t.templateName, regions: rows }));
        } else {
          ctx.io.stdout(
            renderTable(
              [
                { header: 'REGION', value: (r: TemplateListRow) => r.region },
                { header: 'EXISTS', value: (r: TemplateListRow) => r.exists },
                { header: 'ENABLED', value: (r: TemplateListRow) => r.enabled },
                { header: 'DEFAULT', value: (r: TemplateListRow) => r.defaultVersion },
                { header: 'VERSIONS', value: (r: TemplateListRow) => r.versions },
                { header: 'DRIFT', value: (r: TemplateListRow) => r.drift },
                { header: 'ERROR', value: (r: TemplateListRow) => r.error },
              ],
              rows,
            ),
          );
        }
        const failed = rows.filter((r) => r.error !== undefined).length;
        return outcomeCode(rows.length - failed, failed);
      }),
    );

  templates
    .command('diff')
    .description("differences between a local template file and each region's default version")
    .option('--file <path>', 'the template file (default: cdk.json infra.templateFile)')
    .option('--name <template>', 'template name (default: the configuration)')
    .option('--regions <a,b>', 'only these enabled regions')
    .action(
      bind(async (ctx, _args, raw) => {
        const flags = parseFlags(z.object({ name: nameFlag, file: z.string().optional(), regions: regionsFlag }), raw);
        const local = localTemplate(ctx, flags.file, true);
        if (!local) return EXIT.usage;
        const rows = await diffTemplates(target(ctx, flags), local);
        if (ctx.json) {
          ctx.io.stdout(toJson({ file: local.path, regions: rows }));
        } else {
          ctx.io.stdout(
            renderTable(
              [
                { header: 'REGION', value: (r: TemplateDiffRow) => r.region },
                { header: 'STATE', value: (r: TemplateDiffRow) => r.state },
                { header: 'DEFAULT', value: (r: TemplateDiffRow) => r.defaultVersion },
                { header: 'ERROR', value: (r: TemplateDiffRow) => r.error },
              ],
              rows,
            ),
          );
          for (const r of rows) if (r.diff !== '') ctx.io.stdout(`\n${r.diff}`);
        }
        const failed = rows.filter((r) => r.state === 'error').length;
        return outcomeCode(rows.length - failed, failed);
      }),
    );

  templates
    .command('deploy')
    .description('make a template file the default version in all (or the chosen) regions; an invalid file changes nothing')
    .option('--file <path>', 'the template file (default: cdk.json infra.templateFile)')
    .option('--name <template>', 'template name (default: the configuration)')
    .option('--regions <a,b>', 'only these enabled regions')
    .option('--role-arn <arn>', "provisioning role, where the template must be created ('{region}' is replaced)")
    .option('--hook-arn <arn>', "pre-provisioning hook function, where the template must be created ('{region}' is replaced)")
    .option('--no-prune', 'fail instead of deleting the oldest version when a region has 5')
    .option('--dry-run', 'show what each region would get, change nothing')
    .action(
      bind(async (ctx, _args, raw) => {
        const flags = parseFlags(
          z.object({
            name: nameFlag,
            file: z.string().optional(),
            regions: regionsFlag,
            roleArn: roleArn.optional(),
            hookArn: lambdaArn.optional(),
            prune: z.boolean().default(true),
            dryRun: z.boolean().optional(),
          }),
          raw,
        );
        // Validated before any region is read or written.
        const local = localTemplate(ctx, flags.file, true);
        if (!local) return EXIT.usage;
        const rows = await deployTemplate(target(ctx, flags), local, {
          dryRun: flags.dryRun ?? false,
          prune: flags.prune,
          ...(flags.roleArn ? { roleArn: flags.roleArn } : {}),
          ...(flags.hookArn ? { hookArn: flags.hookArn } : {}),
        });
        if (ctx.json) {
          ctx.io.stdout(toJson({ file: local.path, dryRun: flags.dryRun ?? false, regions: rows }));
        } else {
          ctx.io.stdout(
            renderTable(
              [
                { header: 'REGION', value: (r: DeployRow) => r.region },
                { header: flags.dryRun ? 'WOULD' : 'ACTION', value: (r: DeployRow) => r.action },
                { header: 'VERSION', value: (r: DeployRow) => r.versionId },
                { header: 'PRUNED', value: (r: DeployRow) => r.pruned },
                { header: 'ERROR', value: (r: DeployRow) => r.error },
              ],
              rows,
            ),
          );
          if (flags.dryRun) ctx.io.stdout('dry run: nothing changed\n');
        }
        const failed = rows.filter((r) => r.action === 'error').length;
        return outcomeCode(rows.length - failed, failed);
      }),
    );

  templates
    .command('rollback')
    .description('make the previous version (or --to-version) the default again')
    .option('--name <template>', 'template name (default: the configuration)')
    .option('--regions <a,b>', 'only these enabled regions')
    .option('--to-version <n>', 'this version instead of the previous one')
    .option('--dry-run', 'show what each region would get, change nothing')
    .action(
      bind(async (ctx, _args, raw) => {
        const flags = parseFlags(
          z.object({ name: nameFlag, regions: regionsFlag, toVersion: z.coerce.number().int().positive().optional(), dryRun: z.boolean().optional() }),
          raw,
        );
        const rows = await rollbackTemplate(target(ctx, flags), {
          dryRun: flags.dryRun ?? false,
          ...(flags.toVersion !== undefined ? { toVersion: flags.toVersion } : {}),
        });
        if (ctx.json) {
          ctx.io.stdout(toJson({ dryRun: flags.dryRun ?? false, regions: rows }));
        } else {
          ctx.io.stdout(
            renderTable(
              [
                { header: 'REGION', value: (r: RollbackRow) => r.region },
                { header: flags.dryRun ? 'WOULD' : 'ACTION', value: (r: RollbackRow) => r.action },
                { header: 'FROM', value: (r: RollbackRow) => r.from },
                { header: 'TO', value: (r: RollbackRow) => r.to },
                { header: 'ERROR', value: (r: RollbackRow) => r.error },
              ],
              rows,
            ),
          );
          if (flags.dryRun) ctx.io.stdout('dry run: nothing changed\n');
        }
        const failed = rows.filter((r) => r.action === 'error').length;
        return outcomeCode(rows.length - failed, failed);
      }),
    );
}
