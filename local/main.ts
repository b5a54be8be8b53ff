import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import * as z from 'zod';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import { describeError, UsageError } from '@global-iot/core/errors.js';
import { isIotRegion } from '@global-iot/core/regions.js';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGIONS, type HostMode, type LocalCloud, type LocalCloudOptions, startLocalCloud } from './cloud.js';
import { automaticHostMode } from './host-mode.js';
import { MAX_REGION_DELAY_MS, parseRegionDelays, regionDelayProblems } from './iot/endpoint-delay.js';
import { DEFAULT_AWS_QUOTAS } from './iot/quotas.js';
import { createLogger, type LogLevel } from './log.js';
import { deploymentRegions, type LocalDeployment, loadLocalDeployment, warnUnusedSettings } from './deployment-config.js';
import { defaultProductConfig, PRODUCT_FUNCTION_NAMES, productKeyPaths, productWiring } from './product.js';

/**
 * `npm run cloud`: the local multi-region cloud running the product's real handlers, until Ctrl-C
 * or SIGTERM. It prints how to point a device at it.
 */

const port = z.coerce.number().int().min(0).max(65_535);

export const mainOptionsSchema = z.object({
  regions: z
    .string()
    .transform((value) => value.split(',').map((r) => r.trim()).filter(Boolean))
    .pipe(
      z
        .array(z.string())
        .min(1, 'at least one region is needed')
        .superRefine((list, ctx) => {
          for (const region of list) {
            if (!isIotRegion(region)) ctx.addIssue({ code: 'custom', message: `${region} is not an AWS region with AWS IoT Core` });
          }
          if (new Set(list).size !== list.length) ctx.addIssue({ code: 'custom', message: 'a region is listed twice' });
        }),
    ),
  /** The deployment configuration file; its regions replace --regions. */
  config: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  pkiDir: z.string().min(1).optional(),
  demo: z.boolean().default(false),
  awsQuotas: z.boolean().default(false),
  /** `--region-delay <region=ms>`, repeatable: each connection to the region waits before its handshake. */
  regionDelay: z.array(z.string()).default([]),
  hostMode: z.enum(['auto', 'loopback-addresses', 'loopback-ips', 'localhost']).default('auto'),
  accountId: z.string().regex(/^\d{12}$/, 'the account id is 12 digits').default(DEFAULT_ACCOUNT_ID),
  deviceKey: z.enum(['rsa-2048', 'ec-p256']).default('rsa-2048'),
  bootstrapPort: port.optional(),
  controlPlanePort: port.optional(),
  lambdaPort: port.optional(),
  dynamoPort: port.optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});
export type MainOptions = z.infer<typeof mainOptionsSchema>;

/** How long stopping may take after Ctrl-C or SIGTERM before the process ends regardless. */
const STOP_GRACE_MS = 10_000;

/** --help was asked for and printed: not an error, nothing to start. */
export class HelpShown extends Error {
  override name = 'HelpShown';
}

/** Parses and validates the command line (argv without node and the script). */
export function parseMainOptions(argv: readonly string[], write: (text: string) => void = (text) => process.stdout.write(text)): MainOptions {
  const program = new Command()
    .name('npm run cloud --')
    .description('The local multi-region AWS IoT cloud, running the real bootstrap and hook handlers.')
    .option('--config <file>', 'deployment configuration (core/config.ts schema, or a cdk.json): settings, regions, template, table')
    .option('--regions <list>', 'comma-separated regions to emulate (with --config: its regions)', DEFAULT_REGIONS.join(','))
    .option('--data-dir <dir>', 'keep things, certificates, templates, DynamoDB and keys here across restarts')
    .option('--pki-dir <dir>', 'where CAs, the claim certificate and keys are written (default: <data-dir>/pki or .local-cloud/)')
    .option('--demo', 'demo mode: the bootstrap honours x-demo-source-ip (the fleet simulator)', false)
    .option('--aws-quotas', "AWS IoT's default quotas: fleet provisioning rates per region, one CONNECT per second per client id", false)
    .option(
      '--region-delay <region=ms>',
      `hold each connection to the region's endpoint this long before its TLS handshake (0-${MAX_REGION_DELAY_MS} ms; loopback only), ` +
        'as a farther region would; devices measuring their candidates see it. Repeat for more regions',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .addOption(
      new Option(
        '--host-mode <mode>',
        'loopback-addresses: region i on 127.0.0.(i+2):8883, its endpoint that address; loopback-ips: the same under ' +
          '<region>.iot.local-cloud.test names (for /etc/hosts); localhost: 127.0.0.1, free ports; auto: loopback-addresses ' +
          'when those can be bound, else localhost',
      )
        .choices(['auto', 'loopback-addresses', 'loopback-ips', 'localhost'])
        .default('auto'),
    )
    .option('--account-id <id>', 'the emulated AWS account', DEFAULT_ACCOUNT_ID)
    .addOption(new Option('--device-key <type>', 'key type of CreateKeysAndCertificate (AWS: rsa-2048)').choices(['rsa-2048', 'ec-p256']).default('rsa-2048'))
    .option('--bootstrap-port <port>', 'bootstrap HTTPS port (default: a free port)')
    .option('--control-plane-port <port>', 'IoT control plane HTTP port (default: a free port)')
    .option('--lambda-port <port>', 'Lambda Invoke HTTP port (default: a free port)')
    .option('--dynamo-port <port>', 'DynamoDB (dynalite) port (default: a free port)')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info'))
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: write })
    .allowExcessArguments(false);
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError && error.code === 'commander.helpDisplayed') throw new HelpShown('help shown', { cause: error });
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  if (program.opts()['config'] !== undefined && program.getOptionValueSource('regions') === 'cli') {
    throw new UsageError('--regions: the regions come from --config; give one or the other');
  }
  const parsed = mainOptionsSchema.safeParse(program.opts());
  if (!parsed.success) {
    throw new UsageError(parsed.error.issues.map((i) => `--${String(i.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

/**
 * The region delays of `--region-delay`, checked against the regions the cloud will run (those of
 * --config, or --regions); a bad one is a UsageError naming it.
 */
export function regionDelaysOf(options: Pick<MainOptions, 'regionDelay' | 'regions'>, deployment: LocalDeployment | undefined): Record<string, number> {
  let delays: Record<string, number>;
  try {
    delays = parseRegionDelays(options.regionDelay);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const problems = regionDelayProblems(delays, deployment?.config.regions ?? options.regions);
  if (problems.length > 0) throw new UsageError(`--region-delay: ${problems.join('; ')}`);
  return delays;
}

/** The deployment configuration of --config, if given; errors name the file and the setting. */
export function loadMainDeployment(options: Pick<MainOptions, 'config'>): LocalDeployment | undefined {
  if (options.config === undefined) return undefined;
  try {
    return loadLocalDeployment(options.config);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(`--config ${options.config}: ${message}`, { cause: error });
  }
}

function keysDirOf(options: MainOptions): string {
  return options.dataDir ? join(resolve(options.dataDir), 'keys') : resolve(options.pkiDir ?? '.local-cloud', 'keys');
}

/** The deployment configuration the product's functions run with. */
export function productConfigOf(options: Pick<MainOptions, 'regions' | 'awsQuotas'>, deployment: LocalDeployment | undefined): DeploymentConfig {
  return deployment?.config ?? defaultProductConfig(options.regions, options.awsQuotas ? { awsQuotas: DEFAULT_AWS_QUOTAS } : {});
}

/** The host mode to start with: `auto` becomes `loopback-addresses` where it can listen, else `localhost`. */
export async function resolveHostMode(options: Pick<MainOptions, 'hostMode' | 'regions'>, deployment: LocalDeployment | undefined): Promise<HostMode> {
  if (options.hostMode !== 'auto') return options.hostMode;
  return automaticHostMode((deployment?.config.regions ?? options.regions).length);
}

export function cloudOptions(
  options: MainOptions,
  deployment?: LocalDeployment,
  hostMode: HostMode = options.hostMode === 'auto' ? 'localhost' : options.hostMode,
): LocalCloudOptions {
  const log = createLogger(options.logLevel as LogLevel);
  if (deployment) warnUnusedSettings(deployment.config, log);
  return {
    regions: deployment ? deploymentRegions(deployment.config) : options.regions,
    hostMode,
    demo: options.demo,
    awsQuotas: options.awsQuotas,
    regionDelaysMs: regionDelaysOf(options, deployment),
    accountId: options.accountId,
    deviceKeyAlgorithm: options.deviceKey,
    log,
    wire: productWiring({
      keysDir: keysDirOf(options),
      log,
      functionsThread: true,
      config: productConfigOf(options, deployment),
      ...(deployment ? { fleetPublicKeys: deployment.fleetPublicKeys } : {}),
    }),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.pkiDir ? { pkiDir: options.pkiDir } : {}),
    ...(options.bootstrapPort !== undefined ? { bootstrapPort: options.bootstrapPort } : {}),
    ...(options.controlPlanePort !== undefined ? { controlPlanePort: options.controlPlanePort } : {}),
    ...(options.lambdaPort !== undefined ? { lambdaPort: options.lambdaPort } : {}),
    ...(options.dynamoPort !== undefined ? { dynamoPort: options.dynamoPort } : {}),
  };
}

/** What a firmware team needs to point a device (or the AWS SDK) at the local cloud. Nothing secret. */
export function instructions(cloud: LocalCloud, keysDir: string, config: DeploymentConfig, regionDelaysMs: Readonly<Record<string, number>> = {}): string {
  const keys = productKeyPaths(keysDir);
  const firstRegion = cloud.regions[0]?.region ?? config.homeRegion;
  const lines = [
    'Local AWS IoT cloud is running. Point a device at it:',
    '',
    `  bootstrap URL        ${cloud.bootstrapUrl ?? '(none)'}`,
    `  root CA (server)     ${cloud.paths.rootCa}    (use where AWS uses AmazonRootCA1.pem)`,
    `  claim certificate    ${cloud.paths.claimCert}`,
    `  claim private key    ${cloud.paths.claimKey}`,
    `  fleet signing key    ${keys.fleetSigningKeyPath}    (signs bootstrap requests)`,
    '',
    '  region           MQTT endpoint (mutual TLS, MQTT 3.1.1 and 5)',
    ...cloud.regions.map((r) => {
      const listening = r.address !== '127.0.0.1' && r.address !== r.host ? `  (listening on ${r.address})` : '';
      const delay = regionDelaysMs[r.region] ? `  (each handshake delayed ${regionDelaysMs[r.region]} ms)` : '';
      return `  ${r.region.padEnd(16)} ${r.host}:${r.port}${listening}${delay}`;
    }),
    '',
    `  IoT control plane    ${cloud.iotControlEndpoint}    (@aws-sdk/client-iot endpoint; any credentials)`,
    `  Lambda               ${cloud.lambdaEndpoint}    (@aws-sdk/client-lambda endpoint)`,
    `  functions            ${PRODUCT_FUNCTION_NAMES.join(', ')}    (in every region, e.g. ${cloud.functionArn(firstRegion, PRODUCT_FUNCTION_NAMES[0])})`,
    `  template             ${config.templateName}    (in every region, hook ${PRODUCT_FUNCTION_NAMES[0]})`,
    `  DynamoDB             ${cloud.dynamo?.endpoint ?? '(none)'}    (registry table ${config.tableName}, region ${config.homeRegion})`,
    `  account              ${cloud.accountId}`,
  ];
  const named = cloud.regions.filter((r) => r.host !== 'localhost' && isIP(r.host) === 0);
  if (named.length > 0) {
    lines.push('', 'Region host names must resolve to their addresses; add to /etc/hosts:');
    for (const r of named) lines.push(`  ${r.address} ${r.host}`);
  }
  // What an operator runs after a deploy, pointed at this cloud (the configuration: cdk.json, or --config).
  const regionPorts = cloud.regions.filter((r) => r.port !== 8883).flatMap((r) => ['--mqtt-endpoint', `${r.region}=${r.host}:${r.port}`]);
  lines.push(
    '',
    'Check it as after a deploy (in the repository; add --config <file> if the cloud runs one):',
    [
      '  npm run ops -- verify',
      `--endpoint-dynamodb ${cloud.dynamo?.endpoint ?? ''} --endpoint-iot ${cloud.iotControlEndpoint} --endpoint-lambda ${cloud.lambdaEndpoint}`,
      `--bootstrap-url ${cloud.bootstrapUrl ?? ''}/bootstrap --claim-cert ${cloud.paths.claimCert} --claim-key ${cloud.paths.claimKey} --ca ${cloud.paths.rootCa}`,
      ...regionPorts,
    ].join(' '),
  );
  lines.push('', 'Ctrl-C stops it.');
  return `${lines.join('\n')}\n`;
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: MainOptions;
  let deployment: LocalDeployment | undefined;
  try {
    options = parseMainOptions(argv);
    deployment = loadMainDeployment(options);
    regionDelaysOf(options, deployment);
  } catch (error) {
    if (error instanceof HelpShown) return 0;
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const cloud = await startLocalCloud(cloudOptions(options, deployment, await resolveHostMode(options, deployment)));
  process.stdout.write(instructions(cloud, keysDirOf(options), productConfigOf(options, deployment), regionDelaysOf(options, deployment)));
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', () => resolveStop());
    process.once('SIGTERM', () => resolveStop());
  });
  // A second signal, or a stop that hangs, ends the process all the same: its threads with it.
  const force = (): never => process.exit(1);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  setTimeout(force, STOP_GRACE_MS).unref();
  await cloud.stop();
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Exit explicitly once stopped: a straggling handle must not keep the process alive.
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`the local cloud failed: ${describeError(error)}\n`);
      process.exit(1);
    },
  );
}
