/**
 * The deployment's settings as CDK sees them, read once at synth and validated with messages that
 * name the setting. Sources, in order of precedence:
 *
 * 1. the JSON file named by context `configFile`: the deployment configuration (core/config.ts,
 *    the same file the local cloud reads) whose top level may also carry `account`,
 *    `ticketPublicKeys`, `fleetPublicKeys` and `infra`;
 * 2. the context keys of the same names (cdk.json `context`, or `-c key=value`); `config` holds
 *    the deployment configuration.
 *
 * Nothing here is secret: the ticket and fleet keys are public halves. A private key found in
 * them is refused.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import { SECRET_CACHE_SECONDS } from '@global-iot/bootstrap-service/settings.js';
import { type DeploymentConfig, parseDeploymentConfig } from '@global-iot/core/config.js';
import { ConfigError } from '@global-iot/core/errors.js';
import { DEFAULT_METRICS_NAMESPACE, metricsNamespaceSchema } from '@global-iot/core/lambda-telemetry.js';
import { isIotRegion, REGION_CATALOGUE } from '@global-iot/core/regions.js';
import { parseTicketPublicKeys, TICKET_KID_PATTERN } from '@global-iot/core/ticket.js';
import { bootstrapDomainSchema, edgeSchema, iotDomainsSchema, stableNameProblems, withStableNames } from './edge/settings.js';
import { alarmSettingsSchema } from './monitoring/alarm-settings.js';
import { readRotationTemplate, ROTATION_TEMPLATE_FILE } from '@global-iot/core/template/product-template.js';
import { loadProvisioningTemplate, type ProvisioningTemplateFile } from './templates.js';

/** A setting CDK reads at synth is missing or invalid. */
export class InfraConfigError extends ConfigError {
  override name = 'InfraConfigError';
}

/** The account stacks get when none is configured: synth works offline, deploy refuses it. */
export const PLACEHOLDER_ACCOUNT = '111111111111';

/** Key ids starting with this mark a public key that has no usable private half (cdk.json default). */
export const PLACEHOLDER_KID_PREFIX = 'placeholder';

export const CONTEXT_KEYS = {
  account: 'account',
  config: 'config',
  configFile: 'configFile',
  ticketPublicKeys: 'ticketPublicKeys',
  fleetPublicKeys: 'fleetPublicKeys',
  infra: 'infra',
  skipGeoDb: 'skipGeoDb',
} as const;

const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** Settings only the infrastructure needs; each has a default (see infra/README.md). */
export const infraSettingsSchema = z
  .object({
    /** Prefix of every stack name: `<prefix>-Home`, `<prefix>-<region>`. */
    stackPrefix: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/, 'letters, digits and hyphens, starting with a letter, at most 40').default('GlobalIot'),
    /** The provisioning template body deployed in every region, relative to the project root. */
    templateFile: z.string().min(1).default('core/template/global-fleet.json'),
    /** The IoT policy the template attaches to device certificates; the regional stacks create it. */
    devicePolicyName: z.string().regex(/^[\w+=,.@-]{1,128}$/, 'IoT policy names are 1-128 characters of [\\w+=,.@-]').default('GlobalFleetDevicePolicy'),
    /** The IoT policy attached to the claim certificate in every region. */
    claimPolicyName: z.string().regex(/^[\w+=,.@-]{1,128}$/, 'IoT policy names are 1-128 characters of [\\w+=,.@-]').default('GlobalFleetClaimPolicy'),
    /**
     * PEM file of the shared claim certificate (public part only). When set, every regional stack
     * registers it without a CA (SNI_ONLY) and attaches the claim policy to it.
     */
    claimCertificateFile: z.string().min(1).optional(),
    /** Steady-state requests per second the bootstrap API accepts before answering 429. */
    apiRateLimit: z.number().int().min(1).max(10_000).default(50),
    /** Requests the bootstrap API accepts in a burst above the steady rate. */
    apiBurstLimit: z.number().int().min(1).max(5_000).default(100),
    /** Retention of every log group the stacks create. */
    logRetentionDays: z
      .number()
      .int()
      .refine((d) => (RETENTION_DAYS as readonly number[]).includes(d), `must be one of ${RETENTION_DAYS.join(', ')}`)
      .default(30),
    /** CloudWatch namespace of the functions' metrics (EMF, written by Powertools). */
    metricsNamespace: metricsNamespaceSchema.default(DEFAULT_METRICS_NAMESPACE),
    /** How long the bootstrap uses a secret it read (ticket key, geolocation key) before reading it again. */
    secretCacheSeconds: z.number().int().min(SECRET_CACHE_SECONDS.min).max(SECRET_CACHE_SECONDS.max).default(SECRET_CACHE_SECONDS.default),
    /** Subscribed by e-mail to every stack's alarm topic; without it, subscribe to the topics yourself. */
    alarmEmail: z.email('not an e-mail address').optional(),
    /** Alarm thresholds and the period they are measured over (infra/monitoring/alarm-settings.ts). */
    alarms: alarmSettingsSchema.prefault({}),
    /** The bootstrap API on a name of your own (infra/README.md, "Stable names and the edge"). */
    bootstrapDomain: bootstrapDomainSchema.optional(),
    /** Region to an AWS IoT configurable endpoint on a name of your own; the bootstrap answers with these names. */
    iotDomains: iotDomainsSchema.default({}),
    /** CloudFront with AWS WAF in front of the bootstrap API; present means on. */
    edge: edgeSchema.optional(),
  })
  .strict();
export type InfraSettings = z.infer<typeof infraSettingsSchema>;

export interface InfraConfig {
  readonly account: string;
  readonly accountIsPlaceholder: boolean;
  readonly deployment: DeploymentConfig;
  /** Key id to PEM (SubjectPublicKeyInfo, Ed25519): the hooks verify tickets with these. */
  readonly ticketPublicKeys: Readonly<Record<string, string>>;
  readonly ticketKeysArePlaceholders: boolean;
  /** PEM public keys devices may sign bootstrap requests with (besides per-device keys). */
  readonly fleetPublicKeys: readonly string[];
  readonly settings: InfraSettings;
  readonly template: ProvisioningTemplateFile;
  /** The rotation template (core/template/rotation.json), deployed under `lifecycle.rotationTemplateName`. */
  readonly rotationTemplate: ProvisioningTemplateFile;
  readonly claimCertificatePem?: string;
  /** Synth without the geolocation table (tests only: the bundle is then not deployable). */
  readonly skipGeoDb: boolean;
}

export interface ConfigSource {
  /** Reads a context value (`app.node.tryGetContext`). */
  readonly context: (key: string) => unknown;
  /** Relative paths (config file, template, certificate) are resolved against this folder. */
  readonly baseDir: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly readFile?: (path: string) => string;
}

const ticketKeysSchema = z.record(z.string(), z.string().min(1));
const fleetKeysSchema = z.array(z.string().min(1));
const accountSchema = z.string().regex(/^\d{12}$/, 'an AWS account id is 12 digits');

/**
 * Context values given on the command line (`-c key=value`) arrive as strings; JSON objects and
 * arrays among them are decoded so that both ways of setting a value work.
 */
function decodeContextValue(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return value;
  try {
    return JSON.parse(trimmed);
  } catch (cause) {
    throw new InfraConfigError(`context ${key} is not valid JSON`, { cause });
  }
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${[name, ...i.path].join('.')}: ${i.message}`);
  throw new InfraConfigError(`invalid configuration: ${problems.join('; ')}`);
}

/**
 * Regions must come from the catalogue: a typo would otherwise surface only at deploy. The core
 * schema names each unknown region; this adds the list to choose from.
 */
function regionChecks(config: DeploymentConfig): string[] {
  const unknown = [...new Set([config.homeRegion, ...config.regions])].filter((region) => !isIotRegion(region));
  if (unknown.length === 0) return [];
  return [`unknown region ${unknown.join(', ')}: homeRegion and regions must be among ${REGION_CATALOGUE.map((r) => r.code).join(', ')}`];
}

/** Validates a deployment configuration as the stacks need it: core rules plus the region catalogue. */
export function parseInfraDeploymentConfig(input: unknown): DeploymentConfig {
  try {
    return parseDeploymentConfig(input, regionChecks);
  } catch (error) {
    if (error instanceof ConfigError) throw new InfraConfigError(error.message, { cause: error });
    throw error;
  }
}

function validateTicketKeys(keys: Record<string, string>): void {
  for (const [kid, pem] of Object.entries(keys)) {
    if (!TICKET_KID_PATTERN.test(kid)) {
      throw new InfraConfigError(`ticketPublicKeys: key id '${kid}' must be 1-64 characters of [A-Za-z0-9._-], as tickets carry it`);
    }
    // createPublicKey accepts a private key too (it derives the public half), so look first.
    if (/PRIVATE KEY/.test(pem)) {
      throw new InfraConfigError(`ticketPublicKeys.${kid} is a private key; only public keys belong in the configuration`);
    }
  }
  try {
    parseTicketPublicKeys(keys);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new InfraConfigError(`ticketPublicKeys: ${detail}`, { cause });
  }
}

function validateFleetKeys(keys: readonly string[]): void {
  keys.forEach((pem, index) => {
    if (/PRIVATE KEY/.test(pem)) {
      throw new InfraConfigError(`fleetPublicKeys[${index}] is a private key; only public keys belong in the configuration`);
    }
    try {
      createPublicKey(pem);
    } catch (cause) {
      throw new InfraConfigError(`fleetPublicKeys[${index}] is not a PEM public key`, { cause });
    }
  });
}

function readClaimCertificate(path: string, readFile: (path: string) => string): string {
  let pem: string;
  try {
    pem = readFile(path);
  } catch (cause) {
    throw new InfraConfigError(`infra.claimCertificateFile: cannot read ${path}`, { cause });
  }
  if (/PRIVATE KEY/.test(pem)) {
    throw new InfraConfigError(`infra.claimCertificateFile: ${path} holds a private key; give the certificate only`);
  }
  try {
    new X509Certificate(pem);
  } catch (cause) {
    throw new InfraConfigError(`infra.claimCertificateFile: ${path} is not a PEM X.509 certificate`, { cause });
  }
  return pem;
}

function readJsonFile(path: string, readFile: (path: string) => string, setting: string): unknown {
  let text: string;
  try {
    text = readFile(path);
  } catch (cause) {
    throw new InfraConfigError(`${setting}: cannot read ${path}`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new InfraConfigError(`${setting}: ${path} is not valid JSON`, { cause });
  }
}

const FILE_ONLY_KEYS = ['account', 'ticketPublicKeys', 'fleetPublicKeys', 'infra'] as const;

/**
 * Reads and validates everything the stacks need. Throws InfraConfigError naming the first
 * setting at fault (all of them, for the deployment configuration).
 */
export function loadInfraConfig(source: ConfigSource): InfraConfig {
  const readFile = source.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const env = source.env ?? process.env;
  const at = (path: string): string => (isAbsolute(path) ? path : resolve(source.baseDir, path));
  const context = (key: string): unknown => decodeContextValue(key, source.context(key));

  let deploymentInput: unknown = context(CONTEXT_KEYS.config);
  let fromFile: Record<string, unknown> = {};
  const configFile = context(CONTEXT_KEYS.configFile);
  if (configFile !== undefined) {
    if (typeof configFile !== 'string' || configFile === '') throw new InfraConfigError('context configFile must be a file path');
    const parsed = readJsonFile(at(configFile), readFile, 'configFile');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new InfraConfigError(`configFile: ${configFile} must hold a JSON object`);
    }
    const entries = Object.entries(parsed as Record<string, unknown>);
    const isFileOnly = (key: string): boolean => (FILE_ONLY_KEYS as readonly string[]).includes(key);
    fromFile = Object.fromEntries(entries.filter(([key]) => isFileOnly(key)));
    deploymentInput = Object.fromEntries(entries.filter(([key]) => !isFileOnly(key)));
  }
  if (deploymentInput === undefined) {
    throw new InfraConfigError('no deployment configuration: set context "config" in cdk.json or pass -c configFile=<path>');
  }
  const pick = (key: (typeof FILE_ONLY_KEYS)[number]): unknown => fromFile[key] ?? context(CONTEXT_KEYS[key]);

  const parsedDeployment = parseInfraDeploymentConfig(deploymentInput);

  const accountValue = pick('account') ?? env.CDK_DEFAULT_ACCOUNT;
  const account = accountValue === undefined ? PLACEHOLDER_ACCOUNT : parseWith(accountSchema, accountValue, 'account');

  const ticketInput = pick('ticketPublicKeys');
  if (ticketInput === undefined) {
    throw new InfraConfigError('ticketPublicKeys is required: the hooks verify tickets with it (see infra/README.md, "Ticket signing key")');
  }
  const ticketPublicKeys = parseWith(ticketKeysSchema, ticketInput, 'ticketPublicKeys');
  validateTicketKeys(ticketPublicKeys);

  const fleetPublicKeys = parseWith(fleetKeysSchema, pick('fleetPublicKeys') ?? [], 'fleetPublicKeys');
  validateFleetKeys(fleetPublicKeys);

  const settings = parseWith(infraSettingsSchema, pick('infra') ?? {}, 'infra');
  const nameProblems = stableNameProblems(parsedDeployment, settings);
  if (nameProblems.length > 0) throw new InfraConfigError(`invalid configuration: ${nameProblems.join('; ')}`);
  const deployment = withStableNames(parsedDeployment, settings);
  const template = loadProvisioningTemplate({
    path: at(settings.templateFile),
    templateName: deployment.templateName,
    devicePolicyName: settings.devicePolicyName,
    readFile,
  });
  // The product's own file, checked like the operator's: it must attach the stack's device policy.
  const rotationBody = readRotationTemplate();
  const rotationTemplate = loadProvisioningTemplate({
    path: ROTATION_TEMPLATE_FILE,
    templateName: deployment.lifecycle.rotationTemplateName,
    devicePolicyName: settings.devicePolicyName,
    readFile: () => rotationBody,
  });
  const claimCertificatePem =
    settings.claimCertificateFile === undefined ? undefined : readClaimCertificate(at(settings.claimCertificateFile), readFile);

  const skip = context(CONTEXT_KEYS.skipGeoDb);

  return {
    account,
    accountIsPlaceholder: account === PLACEHOLDER_ACCOUNT,
    deployment,
    ticketPublicKeys,
    ticketKeysArePlaceholders: Object.keys(ticketPublicKeys).every((kid) => kid.startsWith(PLACEHOLDER_KID_PREFIX)),
    fleetPublicKeys,
    settings,
    template,
    rotationTemplate,
    ...(claimCertificatePem === undefined ? {} : { claimCertificatePem }),
    skipGeoDb: skip === true || skip === 'true',
  };
}
