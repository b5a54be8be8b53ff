import type { DeploymentConfig } from '@global-iot/core/config.js';
import { readDeploymentConfigFile } from '@global-iot/core/config-file.js';
import { ConfigError } from '@global-iot/core/errors.js';
import { parsePublicKey } from '@global-iot/core/signing.js';
import type { RegionEndpointOptions } from './cloud.js';
import type { Logger } from './log.js';

/**
 * The deployment configuration the local cloud runs (`--config <file>`): the file the CDK app and
 * the ops CLI read, validated by the same schema (core/config.ts), so that legacy signatures, a
 * trusted proxy, residency rules, draining regions, the clock skew, the ticket lifetime, the
 * regions, the template and the table behave locally as deployed. Of the file's other keys only
 * `fleetPublicKeys` is used: the keys devices sign with, besides the fleet key the local cloud
 * makes (the original sample's fleet-wide RSA key, for instance). The local cloud makes its own
 * ticket key and account; `ticketPublicKeys`, `account` and `infra` are the CDK app's.
 */
export interface LocalDeployment {
  readonly config: DeploymentConfig;
  /** SPKI PEM public keys, validated. */
  readonly fleetPublicKeys: readonly string[];
  readonly source: string;
}

function fleetKeysFrom(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError('invalid configuration: fleetPublicKeys: a list of PEM public keys is expected');
  return value.map((pem: unknown, index) => {
    const setting = `fleetPublicKeys[${index}]`;
    if (typeof pem !== 'string') throw new ConfigError(`invalid configuration: ${setting}: a PEM public key is expected`);
    // Node derives a public key from a private one without a word: refuse it before parsing.
    if (/PRIVATE KEY/.test(pem)) throw new ConfigError(`invalid configuration: ${setting} is a private key; only public keys belong in the configuration`);
    try {
      parsePublicKey(pem);
    } catch (error) {
      throw new ConfigError(`invalid configuration: ${setting}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return pem;
  });
}

/** Reads and validates `path`; errors name the setting (UsageError: unreadable, ConfigError: invalid). */
export function loadLocalDeployment(path: string, readFile?: (path: string) => string): LocalDeployment {
  const file = readDeploymentConfigFile(path, readFile);
  return { config: file.config, fleetPublicKeys: fleetKeysFrom(file.companions['fleetPublicKeys']), source: file.source };
}

/** The emulated regions of a deployment: its regions, each under its endpoint override's name if it has one. */
export function deploymentRegions(config: DeploymentConfig): RegionEndpointOptions[] {
  return config.regions.map((region) => {
    const host = config.endpointOverrides[region];
    return host === undefined ? { region } : { region, host };
  });
}

/** Says once, at start, what of the configuration the local cloud does not do. */
export function warnUnusedSettings(config: DeploymentConfig, log: Logger): void {
  if (config.geoProvider) {
    log.warn('geoProvider is not called by the local cloud: it locates callers with the embedded table only, and never reaches the network');
  }
}
