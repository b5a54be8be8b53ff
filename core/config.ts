import * as z from 'zod';
import { claimClientIdPrefixSchema, DEFAULT_CLAIM_CLIENT_ID_PREFIX } from './claim-client-id.js';
import { confirmationRuleNameSchema, DEFAULT_CONFIRMATION_RULE_NAME } from './confirmation.js';
import { ConfigError } from './errors.js';
import { DEFAULT_ROTATION_TEMPLATE_NAME } from './lifecycle/shadow-protocol.js';
import { regionRankingSchema } from './region-ranking.js';
import { isIotRegion } from './regions.js';

/**
 * The deployment's configuration: one schema for cdk.json / the config file (infra), the
 * bootstrap and hook functions (passed to them as JSON) and the local cloud. Every number a user
 * may want to change is here, with its default; see the README's settings table.
 */
/** The shape of an AWS region code; whether AWS IoT runs there is `isIotRegion`'s question. */
export const regionCode = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region code');
const countryCode = z.string().regex(/^[A-Z]{2}$/, 'country codes are ISO 3166-1 alpha-2, upper case');
const templateName = z.string().regex(/^[0-9A-Za-z_-]{1,36}$/, 'template names are 1-36 characters of [0-9A-Za-z_-]');
const hostName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/, 'not a host name');

/** How the bootstrap learns the caller's real address. */
export const trustedProxySchema = z.discriminatedUnion('type', [
  /** The connection's source address as API Gateway reports it. */
  z.object({ type: z.literal('none') }),
  /** Behind N trusted proxies that each append to X-Forwarded-For: take the Nth entry from the right. */
  z.object({ type: z.literal('x-forwarded-for'), hops: z.number().int().min(1).max(5).default(1) }),
  /** Behind CloudFront: its viewer address and viewer latitude/longitude headers. */
  z.object({ type: z.literal('cloudfront') }),
]);
export type TrustedProxy = z.infer<typeof trustedProxySchema>;

export const geoProviderSchema = z.object({
  /** ipstack-compatible HTTPS API: GET <url>/<ip>?access_key=<key>. The key comes from IPSTACK_API_KEY. */
  url: z.string().url().refine((u) => u.startsWith('https://'), 'the geolocation provider must use HTTPS'),
  timeoutMs: z.number().int().min(50).max(3000).default(300),
});

/** When a device's measured handshake times may move it off the model's region (core/measured-choice.ts). */
export const measuredChoiceSchema = z.object({
  /** A measured region must be faster than the model's by at least this many ms... */
  marginMs: z.number().min(0).max(1000).default(5),
  /** ...and by at least this share of the model's region's measured time. */
  marginRatio: z.number().min(0).max(1).default(0.1),
});

const dynamoTableName = z.string().regex(/^[a-zA-Z0-9_.-]{3,255}$/, 'DynamoDB table names are 3-255 characters of [a-zA-Z0-9_.-]');
const tps = z.number().int().min(1).max(100_000);

/** Quota-aware admission: each region's rate of new assignments under a ceiling (core/admission/). */
export const admissionSchema = z.object({
  /** Off: every assignment is admitted, as before the limiter. */
  enabled: z.boolean().default(true),
  /** The limiter's own table of per-region, per-second counters (never the registry, which `ops list` scans). */
  tableName: dynamoTableName.default('iot-bootstrap-admission'),
  /** AWS's RegisterThing quota per account and region (published default: 10 per second). */
  registerThingQuotaTps: tps.default(10),
  /** Regions whose quota was raised, region to its RegisterThing quota per second. */
  regionQuotaTps: z.record(regionCode, tps).default({}),
  /** Share of the quota the bootstrap admits: room for retries and for devices of other flows. */
  safetyFactor: z.number().gt(0).max(1).default(0.8),
  /** Over the ceiling: answer 429 with Retry-After, or try the device's next candidate region first. */
  overflow: z.enum(['retry-after', 'next-region']).default('retry-after'),
  /** With `next-region`: how many further candidates to try before answering 429. */
  overflowRegions: z.number().int().min(1).max(10).default(1),
  /** The longest Retry-After the limiter answers (the device client accepts up to 300 s by default). */
  maxRetryAfterSeconds: z.number().int().min(1).max(3600).default(300),
  /** How long a counter is kept before DynamoDB's TTL may delete it. */
  counterTtlSeconds: z.number().int().min(60).max(86_400).default(3600),
  /**
   * Give each region's admitted devices a time to call RegisterThing at, `ceiling` a second and
   * evenly spaced (the answer's `registerAt`, core/admission/retry-queue.ts), so their calls do
   * not arrive together however the answers, connections and certificates bunch on the way.
   */
  pacing: z.boolean().default(true),
  /**
   * With pacing: how far after its answer a device's RegisterThing time is set at the soonest,
   * to cover its connection and certificate request. A device that is quicker waits the rest; one
   * that is slower calls as soon as it can, out of step, so this is the usual time, not the best.
   */
  registerLeadMs: z.number().int().min(0).max(30_000).default(1000),
});
export type AdmissionSettings = z.output<typeof admissionSchema>;

/** What a move does with a device's data (core/registry/schema.ts `REPROVISION_POLICIES`). */
export const reprovisionPolicySchema = z.enum(['never', 'reset', 'migrate']);

/** Moves and certificate rotation after the first boot (README, "After the first boot"). */
export const lifecycleSchema = z.object({
  /** The policy of a device whose record names none: `migrate` carries its data, `reset` starts afresh, `never` refuses moves. */
  reprovisionPolicy: reprovisionPolicySchema.default('migrate'),
  /** The fleet-provisioning template devices rotate their certificate through (the hook's rotation rules apply to it). */
  rotationTemplateName: templateName.default(DEFAULT_ROTATION_TEMPLATE_NAME),
  /** Moves and rotations kept in a device's `history`, newest last. */
  historyLimit: z.number().int().min(1).max(100).default(20),
  /** `ops regions drain --migrate` and `ops move --from-region`: devices asked to move per second, unless `--rate` says. */
  moveRatePerSecond: z.number().gt(0).max(1000).default(5),
});
export type LifecycleSettings = z.output<typeof lifecycleSchema>;

export const deploymentConfigSchema = z.object({
  /** Region of the registry table, the bootstrap API and the ticket key. */
  homeRegion: regionCode,
  /** IoT regions that receive devices; one regional stack each. */
  regions: z.array(regionCode).min(1, 'at least one region must be enabled'),
  /** Where devices go when their location is unknown (private addresses, geolocation failed). */
  defaultRegion: regionCode,
  /** Country (ISO alpha-2) to the regions its devices may use (data residency). */
  residency: z.record(countryCode, z.array(regionCode).min(1)).default({}),
  /** Regions that take no new devices (also settable at run time with `ops regions drain`). */
  draining: z.array(regionCode).default([]),
  /** How many next-best regions the answer carries for the device to fall back to. */
  fallbackCount: z.number().int().min(0).max(10).default(2),
  /** What "nearest" means for a located device: the network-distance model, or the map. */
  regionRanking: regionRankingSchema.default('network'),
  // prefault: an absent block is parsed as {}, so its fields get their defaults.
  measuredChoice: measuredChoiceSchema.prefault({}),
  admission: admissionSchema.prefault({}),
  lifecycle: lifecycleSchema.prefault({}),
  templateName: templateName.default('GlobalFleetProvisioning'),
  tableName: dynamoTableName.default('iot-device-registry'),
  ticketTtlSeconds: z.number().int().min(60).max(3600).default(900),
  /** Accepted difference between the device's clock and ours, either way. */
  timestampSkewSeconds: z.number().int().min(10).max(3600).default(300),
  /** Accept the original sample's signature over the bare thing name (replayable). */
  legacySignatures: z.boolean().default(false),
  trustedProxy: trustedProxySchema.default({ type: 'none' }),
  /** Allowed hook calls per assignment chain: the first attempt plus retries. */
  maxProvisionAttempts: z.number().int().min(1).max(20).default(3),
  /**
   * Claim sessions connect as `<prefix><thing>`: the claim policy allows no other client id, the
   * hook refuses a RegisterThing from any other, and enrolment refuses thing names that start
   * with it (core/claim-client-id.ts).
   */
  claimClientIdPrefix: claimClientIdPrefixSchema.default(DEFAULT_CLAIM_CLIENT_ID_PREFIX),
  /**
   * Migration window for firmware from before the prefix: the claim policy allows any client id
   * again and the hook also accepts the bare thing name. Reopens the hole the prefix closes.
   */
  legacyClaimClientIds: z.boolean().default(false),
  /** The IoT rule (in every region) that devices confirm their provisioning through, by Basic Ingest. */
  confirmationRuleName: confirmationRuleNameSchema.default(DEFAULT_CONFIRMATION_RULE_NAME),
  /** Per-region endpoint host names (custom domains) instead of DescribeEndpoint's answer. */
  endpointOverrides: z.record(regionCode, hostName).default({}),
  geoProvider: geoProviderSchema.optional(),
});
export type DeploymentConfig = z.infer<typeof deploymentConfigSchema>;
export type DeploymentConfigInput = z.input<typeof deploymentConfigSchema>;

/** Cross-field rules zod's object schema cannot express alone. */
function crossCheck(config: DeploymentConfig): string[] {
  const problems: string[] = [];
  for (const region of new Set([config.homeRegion, ...config.regions])) {
    if (!isIotRegion(region)) problems.push(`${region} is not a commercial AWS region with AWS IoT Core`);
  }
  const enabled = new Set(config.regions);
  if (enabled.size !== config.regions.length) problems.push('regions: a region is listed twice');
  if (!enabled.has(config.defaultRegion)) {
    problems.push(`defaultRegion: ${config.defaultRegion} is not one of the enabled regions`);
  }
  for (const [country, allowed] of Object.entries(config.residency)) {
    for (const region of allowed) {
      if (!enabled.has(region)) problems.push(`residency.${country}: ${region} is not an enabled region`);
    }
  }
  for (const region of config.draining) {
    if (!enabled.has(region)) problems.push(`draining: ${region} is not an enabled region`);
  }
  for (const region of Object.keys(config.endpointOverrides)) {
    if (!enabled.has(region)) problems.push(`endpointOverrides: ${region} is not an enabled region`);
  }
  for (const region of Object.keys(config.admission.regionQuotaTps)) {
    if (!enabled.has(region)) problems.push(`admission.regionQuotaTps: ${region} is not an enabled region`);
  }
  if (config.lifecycle.rotationTemplateName === config.templateName) {
    problems.push(`lifecycle.rotationTemplateName: ${config.templateName} is the provisioning template; rotation needs a template of its own`);
  }
  if (config.admission.tableName === config.tableName) {
    problems.push(`admission.tableName: ${config.tableName} is the registry table; the counters need a table of their own`);
  }
  return problems;
}

/**
 * Validates a deployment configuration, with messages that name the setting. `extraChecks` lets
 * a caller add rules that need more context (the region catalogue).
 */
export function parseDeploymentConfig(
  input: unknown,
  extraChecks: (config: DeploymentConfig) => string[] = () => [],
): DeploymentConfig {
  const parsed = deploymentConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const problems = [...crossCheck(parsed.data), ...extraChecks(parsed.data)];
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return parsed.data;
}
