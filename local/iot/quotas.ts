import * as z from 'zod';
import { InvalidInput } from '@global-iot/core/errors.js';
import { TokenBucket } from '../rate-limiter.js';

/**
 * AWS IoT Core's default quotas for fleet provisioning and connections, per account and region
 * ("AWS IoT Core endpoints and quotas", https://docs.aws.amazon.com/general/latest/gr/iot-core.html).
 * Off unless asked for (`--aws-quotas`, `startLocalCloud({ awsQuotas })`): tests and the demo
 * run faster than AWS would let them.
 */
export const awsQuotasSchema = z.strictObject({
  /** Fleet provisioning CreateKeysAndCertificate over MQTT, per region. */
  createKeysAndCertificatePerSecond: z.number().positive().default(10),
  /** Fleet provisioning CreateCertificateFromCsr over MQTT, per region. */
  createCertificateFromCsrPerSecond: z.number().positive().default(20),
  /** Fleet provisioning RegisterThing over MQTT, per region. */
  registerThingPerSecond: z.number().positive().default(10),
  /** MQTT CONNECT requests per client id. */
  connectsPerSecondPerClientId: z.number().positive().default(1),
});
export type AwsQuotas = z.infer<typeof awsQuotasSchema>;

export const DEFAULT_AWS_QUOTAS: AwsQuotas = awsQuotasSchema.parse({});

export class InvalidQuotas extends InvalidInput {
  override name = 'InvalidQuotas';
}

/** `true` is AWS's defaults; an object overrides some of them; false or absent, no quotas. */
export function resolveAwsQuotas(option: boolean | Partial<AwsQuotas> | undefined): AwsQuotas | undefined {
  if (option === undefined || option === false) return undefined;
  const parsed = awsQuotasSchema.safeParse(option === true ? {} : option);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidQuotas(`awsQuotas.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export type FleetProvisioningOperation = 'create-keys' | 'create-from-csr' | 'register';

/** Whether a region's fleet provisioning request may go ahead now: one bucket per operation. */
export type FleetProvisioningThrottle = (operation: FleetProvisioningOperation) => boolean;

export function fleetProvisioningThrottle(quotas: AwsQuotas, now: () => number): FleetProvisioningThrottle {
  const buckets: Record<FleetProvisioningOperation, TokenBucket> = {
    'create-keys': new TokenBucket(quotas.createKeysAndCertificatePerSecond, now),
    'create-from-csr': new TokenBucket(quotas.createCertificateFromCsrPerSecond, now),
    register: new TokenBucket(quotas.registerThingPerSecond, now),
  };
  return (operation) => buckets[operation].take();
}
