import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import * as z from 'zod';
import { claimClientIdPrefixSchema, DEFAULT_CLAIM_CLIENT_ID_PREFIX } from '@global-iot/core/claim-client-id.js';
import { confirmationRuleNameSchema, DEFAULT_CONFIRMATION_RULE_NAME } from '@global-iot/core/confirmation.js';
import { THING_NAME_PARAM, TICKET_PARAM } from '@global-iot/core/provisioning-params.js';
import { toVerificationKey, UnsupportedKey } from '@global-iot/core/signing.js';
import { thingNameSchema } from '@global-iot/core/thing-name.js';
import { DEFAULT_BOOTSTRAP_TIMING, validateBootstrapUrl } from './bootstrap-client.js';
import { DeviceConfigError } from './errors.js';
import { assertCertificateMatchesKey, KeyMismatch } from './keys.js';
import type { MqttProtocol } from './mqtt.js';
import { type CertificateMode, DEFAULT_REGISTER_ATTEMPTS, type DeviceIdentity } from './provision.js';
import { DEFAULT_MEASURE_SETTINGS, MEASURE_LIMITS } from './measure.js';
import { DEFAULT_THROTTLE_POLICY } from './throttle.js';
import { LIFECYCLE_FLAGS, lifecycleSettingsShape } from './lifecycle/settings.js';

/**
 * The device's settings: from a JSON config file, from flags, or both (flags win). Every value
 * is validated here and every file read and checked, so a mistake is reported once, up front,
 * naming the flag, rather than as a TLS failure three steps later.
 */

/** Setting name -> the flag that sets it, for messages. */
export const SETTING_FLAGS = {
  thingName: '--thing-name',
  signingKey: '--signing-key',
  claimCert: '--claim-cert',
  claimKey: '--claim-key',
  bootstrapUrl: '--bootstrap-url',
  ca: '--ca',
  out: '--out',
  certificateMode: '--certificate-mode',
  claimClientIdPrefix: '--claim-client-id-prefix',
  confirmationRule: '--confirmation-rule',
  mqtt: '--mqtt',
  parameters: '--param',
  port: '--port',
  connectTimeoutMs: '--connect-timeout',
  requestTimeoutMs: '--request-timeout',
  operationTimeoutMs: '--operation-timeout',
  maxAttempts: '--max-attempts',
  registerAttempts: '--register-attempts',
  throttleAttempts: '--throttle-attempts',
  throttleBackoffMs: '--throttle-backoff',
  throttleMaxBackoffMs: '--throttle-max-backoff',
  measure: '--no-measure',
  measureProbes: '--measure-probes',
  measureTimeoutMs: '--measure-timeout',
  ...LIFECYCLE_FLAGS,
} as const;

export type SettingName = keyof typeof SETTING_FLAGS;

const pathSchema = z.string().min(1, 'must not be empty');
const ms = (min: number, max: number) => z.number().int().min(min).max(max);

export const deviceSettingsSchema = z
  .object({
    thingName: thingNameSchema,
    signingKey: pathSchema,
    claimCert: pathSchema,
    claimKey: pathSchema,
    bootstrapUrl: z.string().min(1),
    ca: pathSchema.optional(),
    out: pathSchema,
    certificateMode: z.enum(['csr', 'keys']).default('csr'),
    claimClientIdPrefix: claimClientIdPrefixSchema.default(DEFAULT_CLAIM_CLIENT_ID_PREFIX),
    confirmationRule: confirmationRuleNameSchema.default(DEFAULT_CONFIRMATION_RULE_NAME),
    mqtt: z.enum(['3.1.1', '5']).default('3.1.1'),
    // AWS IoT template parameter values are strings; names as in a template's Parameters.
    parameters: z
      .record(z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'parameter names are 1-128 of [A-Za-z0-9_.:-]'), z.string().max(2048))
      .refine((p) => !Object.hasOwn(p, THING_NAME_PARAM) && !Object.hasOwn(p, TICKET_PARAM), {
        message: `${THING_NAME_PARAM} and ${TICKET_PARAM} are set by the device itself`,
      })
      .default({}),
    port: z.number().int().min(1).max(65_535).default(8883),
    connectTimeoutMs: ms(100, 120_000).default(10_000),
    requestTimeoutMs: ms(100, 300_000).default(DEFAULT_BOOTSTRAP_TIMING.requestTimeoutMs),
    operationTimeoutMs: ms(100, 300_000).default(10_000),
    maxAttempts: z.number().int().min(1).max(20).default(DEFAULT_BOOTSTRAP_TIMING.maxAttempts),
    registerAttempts: z.number().int().min(1).max(10).default(DEFAULT_REGISTER_ATTEMPTS),
    throttleAttempts: z.number().int().min(1).max(20).default(DEFAULT_THROTTLE_POLICY.attempts),
    throttleBackoffMs: ms(10, 60_000).default(DEFAULT_THROTTLE_POLICY.baseBackoffMs),
    throttleMaxBackoffMs: ms(10, 300_000).default(DEFAULT_THROTTLE_POLICY.maxBackoffMs),
    measure: z.boolean().default(DEFAULT_MEASURE_SETTINGS.enabled),
    measureProbes: z.number().int().min(MEASURE_LIMITS.probes.min).max(MEASURE_LIMITS.probes.max).default(DEFAULT_MEASURE_SETTINGS.probes),
    measureTimeoutMs: ms(MEASURE_LIMITS.timeoutMs.min, MEASURE_LIMITS.timeoutMs.max).default(DEFAULT_MEASURE_SETTINGS.timeoutMs),
    ...lifecycleSettingsShape,
  })
  .strict()
  .refine((s) => s.throttleMaxBackoffMs >= s.throttleBackoffMs, {
    message: `must not be below ${SETTING_FLAGS.throttleBackoffMs} (throttleBackoffMs)`,
    path: ['throttleMaxBackoffMs'],
  });

export type DeviceSettings = z.infer<typeof deviceSettingsSchema>;
export type DeviceSettingsInput = z.input<typeof deviceSettingsSchema>;

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path[0];
  const flag = typeof key === 'string' && key in SETTING_FLAGS ? `${SETTING_FLAGS[key as SettingName]} (${key})` : issue.path.join('.') || 'settings';
  if (issue.code === 'unrecognized_keys') return `unknown setting(s): ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${flag} is required`;
  const rest = issue.path.length > 1 ? ` at ${issue.path.slice(1).join('.')}` : '';
  return `${flag}${rest}: ${issue.message}`;
}

/** Validates merged settings; the error lists every problem, one per line. */
export function parseDeviceSettings(input: unknown): DeviceSettings {
  const parsed = deviceSettingsSchema.safeParse(input);
  if (!parsed.success) throw new DeviceConfigError(parsed.error.issues.map(describeIssue).join('\n'));
  return parsed.data;
}

const PATH_SETTINGS = ['signingKey', 'claimCert', 'claimKey', 'ca', 'out'] as const;

/**
 * Reads a JSON config file: the same names as the settings. Relative paths in it are relative to
 * the file, so a config directory can be moved as a whole.
 */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new DeviceConfigError(`--config: cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new DeviceConfigError(`--config: ${path} is not valid JSON`, { cause });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new DeviceConfigError(`--config: ${path} must hold a JSON object`);
  }
  const settings: Record<string, unknown> = { ...json };
  for (const key of PATH_SETTINGS) {
    const value = settings[key];
    if (typeof value === 'string' && value !== '') settings[key] = resolve(dirname(path), value);
  }
  return settings;
}

async function readSetting(setting: SettingName, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new DeviceConfigError(`${SETTING_FLAGS[setting]}: cannot read ${path} (${code})`, { cause });
  }
}

function privateKeyFrom(setting: SettingName, pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (cause) {
    throw new DeviceConfigError(`${SETTING_FLAGS[setting]}: not a PEM private key`, { cause });
  }
}

/** Everything the flow needs, read from disk and checked. */
export interface LoadedDevice {
  readonly settings: DeviceSettings;
  readonly identity: DeviceIdentity;
  readonly bootstrapUrl: URL;
  readonly caPem?: string;
  readonly protocol: MqttProtocol;
  readonly certificateMode: CertificateMode;
}

export async function loadDevice(settings: DeviceSettings): Promise<LoadedDevice> {
  const bootstrapUrl = (() => {
    try {
      return validateBootstrapUrl(settings.bootstrapUrl);
    } catch (error) {
      throw new DeviceConfigError(`${SETTING_FLAGS.bootstrapUrl}: ${(error as Error).message}`, { cause: error });
    }
  })();
  const [signingPem, claimCertPem, claimKeyPem, caPem] = await Promise.all([
    readSetting('signingKey', settings.signingKey),
    readSetting('claimCert', settings.claimCert),
    readSetting('claimKey', settings.claimKey),
    settings.ca === undefined ? Promise.resolve(undefined) : readSetting('ca', settings.ca),
  ]);

  const signingKey = privateKeyFrom('signingKey', signingPem);
  try {
    toVerificationKey(createPublicKey(signingKey));
  } catch (error) {
    if (error instanceof UnsupportedKey) throw new DeviceConfigError(`${SETTING_FLAGS.signingKey}: ${error.message}`, { cause: error });
    throw error;
  }

  const claimKey = privateKeyFrom('claimKey', claimKeyPem);
  try {
    assertCertificateMatchesKey(claimCertPem, claimKey);
  } catch (error) {
    if (error instanceof KeyMismatch) {
      throw new DeviceConfigError(`${SETTING_FLAGS.claimCert} and ${SETTING_FLAGS.claimKey}: ${error.message}`, { cause: error });
    }
    throw error;
  }

  if (caPem !== undefined) {
    try {
      new X509Certificate(caPem);
    } catch (cause) {
      throw new DeviceConfigError(`${SETTING_FLAGS.ca}: ${settings.ca ?? ''} holds no PEM certificate`, { cause });
    }
  }

  return {
    settings,
    identity: { thingName: settings.thingName, signingKey, claim: { certificatePem: claimCertPem, privateKeyPem: claimKeyPem } },
    bootstrapUrl,
    ...(caPem !== undefined ? { caPem } : {}),
    protocol: settings.mqtt === '5' ? 'mqtt5' : 'mqtt311',
    certificateMode: settings.certificateMode,
  };
}
