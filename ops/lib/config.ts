import { dirname, resolve } from 'node:path';
import * as z from 'zod';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import { ConfigFileUnreadable, readDeploymentConfigFile } from '@global-iot/core/config-file.js';
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
  /** The provisioning template file the CDK app deploys (`infra.templateFile`), if known. */
  readonly templateFile?: string;
  /** The claim certificate's IoT policy the CDK app deploys (`infra.claimPolicyName`), if known. */
  readonly claimPolicyName?: string;
  /** The AWS account the CDK app deploys to (`account`), if known. */
  readonly account?: string;
}

const companionsSchema = z.looseObject({
  account: z.string().regex(/^\d{12}$/).optional(),
  infra: z.looseObject({ templateFile: z.string().min(1).optional(), claimPolicyName: z.string().min(1).optional() }).optional(),
});

export function loadOpsConfig(options: {
  configFile?: string;
  cwd: string;
  readFile: (path: string) => string;
}): OpsConfig {
  const path = resolve(options.cwd, options.configFile ?? 'cdk.json');
  let file;
  try {
    file = readDeploymentConfigFile(path, options.readFile);
  } catch (error) {
    if (options.configFile === undefined && error instanceof ConfigFileUnreadable) {
      throw new UsageError('no configuration: pass --config <file> or run in the folder of cdk.json', { cause: error });
    }
    throw error;
  }
  const companions = companionsSchema.safeParse(file.companions).data;
  const templateFile = companions?.infra?.templateFile;
  const claimPolicyName = companions?.infra?.claimPolicyName;
  return {
    config: file.config,
    source: file.source,
    ...(templateFile ? { templateFile: resolve(dirname(path), templateFile) } : {}),
    ...(claimPolicyName ? { claimPolicyName } : {}),
    ...(companions?.account ? { account: companions.account } : {}),
  };
}
