import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as z from 'zod';
import { type DeploymentConfig, parseDeploymentConfig } from './config.js';
import { UsageError } from './errors.js';

/**
 * A deployment configuration file, as every part that takes `--config` reads it (the ops CLI, the
 * local cloud): either the configuration itself, whose top level may also carry what only some
 * parts use (`account`, `fleetPublicKeys`, `ticketPublicKeys`, `infra`, as the CDK app reads
 * them), or a cdk.json whose `context` holds it as `config` beside those same keys.
 */
export interface DeploymentConfigFile {
  readonly config: DeploymentConfig;
  /** The absolute path read, for messages. */
  readonly source: string;
  /** The object that holds `config`'s companions: cdk.json's context, or the file itself. */
  readonly companions: Readonly<Record<string, unknown>>;
}

/** The configuration file cannot be read (missing, not permitted). */
export class ConfigFileUnreadable extends UsageError {
  override name = 'ConfigFileUnreadable';
}

const objectSchema = z.record(z.string(), z.unknown());
const cdkJsonSchema = z.looseObject({ context: objectSchema });

function readJson(path: string, readFile: (path: string) => string): unknown {
  let text: string;
  try {
    text = readFile(path);
  } catch (cause) {
    throw new ConfigFileUnreadable(`cannot read the configuration file ${path}`, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new UsageError(`${path} is not valid JSON`, { cause });
  }
}

/**
 * Reads and validates a configuration file. An unreadable file, bad JSON or a cdk.json without
 * `context.config` is a UsageError; a configuration that fails the schema is a ConfigError whose
 * message names each setting at fault.
 */
export function readDeploymentConfigFile(
  path: string,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): DeploymentConfigFile {
  const source = resolve(path);
  const json = readJson(source, readFile);
  const cdk = cdkJsonSchema.safeParse(json);
  if (cdk.success) {
    const { context } = cdk.data;
    if (context['config'] === undefined) throw new UsageError(`${source} has no context.config (the deployment configuration)`);
    return { config: parseDeploymentConfig(context['config']), source, companions: context };
  }
  const top = objectSchema.safeParse(json);
  if (!top.success) throw new UsageError(`${source} does not hold a JSON object`);
  return { config: parseDeploymentConfig(top.data), source, companions: top.data };
}
