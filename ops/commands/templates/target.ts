import * as z from 'zod';
import { isValidTemplateName } from '@global-iot/core/template/index.js';
import { UsageError } from '../../lib/errors.js';
import type { CommandContext } from '../../lib/context.js';
import { flag } from '../../lib/flags.js';
import { chooseRegions } from '../../lib/regional.js';
import { loadTemplateFile, type LocalTemplate, type TemplateTarget } from '../../lib/templates.js';

/** What the template commands share: which template, where, and the local file. */

export const nameFlag = flag.string(
  '--name <template>',
  'template name (default: the configuration)',
  z.string().refine(isValidTemplateName, 'template names are 1-36 characters of [0-9A-Za-z_-]').optional(),
);

/** The local template file; each command says what it does with it. */
export const fileFlag = (description: string) => flag.string('--file <path>', description, z.string().optional());

export function templateTarget(ctx: CommandContext, flags: { name?: string | undefined; regions?: string[] | undefined }): TemplateTarget {
  const { config } = ctx.config();
  return {
    iot: (region) => ctx.iot(region),
    regions: chooseRegions(config.regions, flags.regions),
    templateName: flags.name ?? config.templateName,
    timeoutMs: ctx.timeoutMs,
  };
}

/** The template file: `--file`, else the one the CDK app deploys (cdk.json `infra.templateFile`). */
export function localTemplate(ctx: CommandContext, file: string | undefined, required: true): LocalTemplate;
export function localTemplate(ctx: CommandContext, file: string | undefined, required: false): LocalTemplate | undefined;
export function localTemplate(ctx: CommandContext, file: string | undefined, required: boolean): LocalTemplate | undefined {
  const path = file !== undefined ? ctx.resolvePath(file) : ctx.config().templateFile;
  if (path === undefined) {
    if (required) throw new UsageError('give the template with --file (cdk.json names no infra.templateFile)');
    return undefined;
  }
  return loadTemplateFile(path, ctx.readFile);
}
