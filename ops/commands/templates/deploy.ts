import * as z from 'zod';
import { defineCommand, type CliCommand, rowsOutcome } from '../../lib/command.js';
import { dryRunFlag, regionsFlag } from '../../lib/common-flags.js';
import { defineFlags, flag } from '../../lib/flags.js';
import { renderTable, toJson } from '../../lib/output.js';
import { type DeployRow, deployTemplate } from '../../lib/templates.js';
import { fileFlag, localTemplate, nameFlag, templateTarget } from './target.js';

/** `{region}` may stand for the region code, for per-region roles and functions. */
const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/{}-]{1,512}$/, 'not an IAM role ARN');
const lambdaArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:lambda:([a-z0-9-]+|\{region\}):\d{12}:function:[A-Za-z0-9_{}-]{1,64}(:[A-Za-z0-9_$-]+)?$/, 'not a Lambda function ARN');

export const templatesDeploy: CliCommand = defineCommand({
  name: 'deploy',
  description: 'make a template file the default version in all (or the chosen) regions; an invalid file changes nothing',
  flags: defineFlags({
    file: fileFlag('the template file (default: cdk.json infra.templateFile)'),
    name: nameFlag,
    regions: regionsFlag,
    roleArn: flag.string('--role-arn <arn>', "provisioning role, where the template must be created ('{region}' is replaced)", roleArn.optional()),
    hookArn: flag.string('--hook-arn <arn>', "pre-provisioning hook function, where the template must be created ('{region}' is replaced)", lambdaArn.optional()),
    prune: flag.negatable('--no-prune', 'fail instead of deleting the oldest version when a region has 5'),
    dryRun: dryRunFlag('show what each region would get, change nothing'),
  }),
  async run(ctx, { flags }) {
    // Validated before any region is read or written.
    const local = localTemplate(ctx, flags.file, true);
    const rows = await deployTemplate(templateTarget(ctx, flags), local, {
      dryRun: flags.dryRun,
      prune: flags.prune,
      ...(flags.roleArn ? { roleArn: flags.roleArn } : {}),
      ...(flags.hookArn ? { hookArn: flags.hookArn } : {}),
    });
    if (ctx.json) {
      ctx.io.stdout(toJson({ file: local.path, dryRun: flags.dryRun, regions: rows }));
    } else {
      const columns = [
        { header: 'REGION', value: (r: DeployRow) => r.region },
        { header: flags.dryRun ? 'WOULD' : 'ACTION', value: (r: DeployRow) => r.action },
        { header: 'VERSION', value: (r: DeployRow) => r.versionId },
        { header: 'PRUNED', value: (r: DeployRow) => r.pruned },
        { header: 'ERROR', value: (r: DeployRow) => r.error },
      ];
      ctx.io.stdout(renderTable(columns, rows));
      if (flags.dryRun) ctx.io.stdout('dry run: nothing changed\n');
    }
    return rowsOutcome(rows, (r) => r.action === 'error');
  },
});
