/**
 * Optional settings for stable names and an edge in front of the bootstrap (infra/README.md,
 * "Stable names and the edge"): the bootstrap API on a custom domain, AWS IoT configurable
 * endpoints per region, and CloudFront with AWS WAF. All off unless set; checked at synth, with
 * messages that name the setting.
 */
import * as z from 'zod';
import type { DeploymentConfig } from '@global-iot/core/config.js';

/** AWS WAF's web ACLs for CloudFront (scope CLOUDFRONT) exist only in us-east-1, as do CloudFront's certificates. */
export const EDGE_REGION = 'us-east-1';

const hostName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/, 'not a fully qualified host name');

const CERTIFICATE_ARN = /^arn:aws:acm:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):certificate\/[0-9a-f-]{36}$/;
const certificateArn = z.string().regex(CERTIFICATE_ARN, 'not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)');

/** The Route 53 hosted zone that holds a name: for the certificate's DNS validation and the alias record. */
const hostedZoneSchema = z
  .object({
    /** The zone's id (`Z...`). */
    id: z.string().regex(/^Z[A-Z0-9]{1,32}$/, 'a hosted zone id is Z followed by letters and digits'),
    /** The zone's name (`example.com`). */
    name: hostName,
  })
  .strict();
export type HostedZoneSettings = z.infer<typeof hostedZoneSchema>;

/**
 * The name devices carry for the bootstrap, on the API (or, with the edge, on CloudFront). Its
 * certificate: an existing one in ACM, or one DNS-validated in the hosted zone.
 */
export const bootstrapDomainSchema = z
  .object({
    name: hostName,
    /** An ACM certificate covering `name`: in the home region, or in us-east-1 with the edge. */
    certificateArn: certificateArn.optional(),
    /** Where to validate a new certificate and put the alias record; without it, create the record yourself. */
    hostedZone: hostedZoneSchema.optional(),
  })
  .strict()
  .refine((d) => d.certificateArn !== undefined || d.hostedZone !== undefined, {
    message: 'give certificateArn, or hostedZone to have a DNS-validated certificate made',
  });
export type BootstrapDomainSettings = z.infer<typeof bootstrapDomainSchema>;

/** An AWS IoT configurable endpoint on a name of your own, in one region. */
const iotDomainSchema = z
  .object({
    /** The data endpoint's host name in that region; the bootstrap answers with it. */
    name: hostName,
    /** An ACM certificate covering `name`, in that region (AWS IoT presents it). */
    certificateArn,
  })
  .strict();
export type IotDomainSettings = z.infer<typeof iotDomainSchema>;

export const iotDomainsSchema = z.record(z.string(), iotDomainSchema);

/**
 * WAF rate-based rules count over one of 60, 120, 300 or 600 s. The block answers Retry-After =
 * the window, and the device client gives up on a Retry-After over 300 s
 * (device/bootstrap-client.ts), so 600 is left out.
 */
const RATE_WINDOWS = [60, 120, 300] as const;

/** CloudFront and AWS WAF in front of the bootstrap API. Present means on. */
export const edgeSchema = z
  .object({
    /** Requests one source address may make within `rateWindowSeconds` before WAF blocks it. */
    rateLimit: z.number().int().min(10).max(2_000_000_000).default(300),
    /** The window the rate-based rule counts over. */
    rateWindowSeconds: z
      .number()
      .int()
      .refine((w) => (RATE_WINDOWS as readonly number[]).includes(w), `must be one of ${RATE_WINDOWS.join(', ')}`)
      .default(300),
    /** Which edge locations serve: devices anywhere on Earth want all of them. */
    priceClass: z.enum(['PriceClass_All', 'PriceClass_200', 'PriceClass_100']).default('PriceClass_All'),
    /**
     * Raise by one after writing a new origin secret: CloudFront reads the secret when the edge
     * stack deploys, and only a changed template deploys (infra/README.md, rotation).
     */
    originSecretGeneration: z.number().int().min(1).max(1_000_000).default(1),
    /** How long API Gateway keeps the origin check's answer for one header value. */
    originCheckCacheSeconds: z.number().int().min(0).max(3600).default(300),
  })
  .strict();
export type EdgeSettings = z.infer<typeof edgeSchema>;

/** The settings of this module, as they sit in `infra`. */
export interface StableNameSettings {
  readonly bootstrapDomain?: BootstrapDomainSettings | undefined;
  readonly iotDomains: Readonly<Record<string, IotDomainSettings>>;
  readonly edge?: EdgeSettings | undefined;
}

function regionOf(arn: string): string | undefined {
  return CERTIFICATE_ARN.exec(arn)?.[1];
}

function isWithin(name: string, zone: string): boolean {
  const host = name.toLowerCase();
  const apex = zone.toLowerCase().replace(/\.$/, '');
  return host === apex || host.endsWith(`.${apex}`);
}

/** Cross-field rules: where certificates live, which regions, names inside their zone. */
export function stableNameProblems(deployment: DeploymentConfig, settings: StableNameSettings): string[] {
  const problems: string[] = [];
  const domain = settings.bootstrapDomain;
  if (domain?.certificateArn !== undefined) {
    const needed = settings.edge === undefined ? deployment.homeRegion : EDGE_REGION;
    const where = settings.edge === undefined ? 'the home region (the API serves it)' : `${EDGE_REGION} (CloudFront serves it)`;
    if (regionOf(domain.certificateArn) !== needed) problems.push(`infra.bootstrapDomain.certificateArn: the certificate must be in ${where}, ${needed}`);
  }
  if (domain?.hostedZone !== undefined && !isWithin(domain.name, domain.hostedZone.name)) {
    problems.push(`infra.bootstrapDomain.hostedZone: ${domain.name} is not inside ${domain.hostedZone.name}`);
  }
  const enabled = new Set(deployment.regions);
  for (const [region, iot] of Object.entries(settings.iotDomains)) {
    if (!enabled.has(region)) {
      problems.push(`infra.iotDomains: ${region} is not an enabled region`);
      continue;
    }
    if (regionOf(iot.certificateArn) !== region) problems.push(`infra.iotDomains.${region}.certificateArn: the certificate must be in ${region}`);
    const override = deployment.endpointOverrides[region];
    if (override !== undefined && override !== iot.name) {
      problems.push(`endpointOverrides.${region}: ${override} differs from infra.iotDomains.${region}.name ${iot.name}; set one of them`);
    }
  }
  if (settings.edge !== undefined && !['none', 'cloudfront'].includes(deployment.trustedProxy.type)) {
    problems.push(`trustedProxy: ${deployment.trustedProxy.type} cannot be used with infra.edge, which makes CloudFront the trusted proxy; leave it out or set {"type": "cloudfront"}`);
  }
  return problems;
}

/**
 * The deployment configuration the bootstrap gets: the configurable endpoints' names as the
 * endpoints it answers with, and CloudFront as the trusted proxy when the edge is on.
 */
export function withStableNames(deployment: DeploymentConfig, settings: StableNameSettings): DeploymentConfig {
  const endpointOverrides = { ...deployment.endpointOverrides };
  for (const [region, iot] of Object.entries(settings.iotDomains)) endpointOverrides[region] = iot.name;
  return {
    ...deployment,
    endpointOverrides,
    ...(settings.edge === undefined ? {} : { trustedProxy: { type: 'cloudfront' as const } }),
  };
}
