import { dirname, resolve } from 'node:path';
import * as z from 'zod';
import { type DeploymentConfig, parseDeploymentConfig } from '@global-iot/core/config.js';
import { UsageError } from './errors.js';

/**
 * The deployment configuration the CLI works on: the file given with `--config` (a deployment
 * config, or a cdk.json whose context holds one), else `cdk.json` in the working folder, its
 * context `config`, validated with the same schema as the CDK app and the functions.
 */
export interface OpsConfig {
  readonly config: DeploymentConfig;
  /** Where the configuration came from, for messages. */
  readonly source: string;
  /** The provisioning template file the CDK app deploys (cdk.json `infra.templateFile`), if known. */
  readonly templateFile?: string;
}

const cdkJsonSchema = z.looseObject({
  context: z.looseObject({
    config: z.unknown(),
    infra: z.looseObject({ templateFile: z.string().min(1).optional() }).optional(),
  }),
});

function readJson(path: string, readFile: (path: string) => string, missing: string): unknown {
  let text: string;
  try {
    text = readFile(path);
  } catch (cause) {
    throw new UsageError(missing, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new UsageError(`${path} is not valid JSON`, { cause });
  }
}

export function loadOpsConfig(options: {
  configFile?: string;
  cwd: string;
  readFile: (path: string) => string;
}): OpsConfig {
  const path = resolve(options.cwd, options.configFile ?? 'cdk.json');
  if (options.configFile === undefined) {
    return fromCdkJson(readJson(path, options.readFile, 'no configuration: pass --config <file> or run in the folder of cdk.json'), path);
  }
  const json = readJson(path, options.readFile, `cannot read the configuration file ${path}`);
  const cdk = cdkJsonSchema.safeParse(json);
  if (cdk.success) return fromCdkJson(json, path);
  return { config: parseDeploymentConfig(json), source: path };
}

function fromCdkJson(json: unknown, path: string): OpsConfig {
  const cdk = cdkJsonSchema.safeParse(json);
  if (!cdk.success || cdk.data.context.config === undefined) {
    throw new UsageError(`${path} has no context.config (the deployment configuration)`);
  }
  const templateFile = cdk.data.context.infra?.templateFile;
  return {
    config: parseDeploymentConfig(cdk.data.context.config),
    source: path,
    ...(templateFile ? { templateFile: resolve(dirname(path), templateFile) } : {}),
  };
}
