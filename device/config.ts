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
import { LIFECYCLE_SETTINGS } from './lifecycle/settings.js';
import { collectParam, flagName, type Setting, toNumber } from './setting.js';

/**
 * The device's settings: from a JSON config file, from flags, or both (flags win). Every value
 * is validated here and every file read and checked, so a mistake is reported once, up front,
 * naming the flag, rather than as a TLS failure three steps later.
 */

const pathSchema = z.string().min(1, 'must not be empty');
const ms = (min: number, max: number) => z.number().int().min(min).max(max);

/** Every setting, in the order of `--help` (setting.ts): the flag, its help and its schema, once. */
export const SETTINGS = {
  thingName: { flag: '--thing-name <name>', help: 'the thing name this device was enrolled under (1-128 of [a-zA-Z0-9:_-])', schema: thingNameSchema },
  signingKey: { flag: '--signing-key <file>', help: 'PEM private key that signs the bootstrap request (RSA 2048-4096, EC P-256 or Ed25519)', schema: pathSchema },
  claimCert: { flag: '--claim-cert <file>', help: 'PEM claim certificate, shared by the fleet, for the first MQTT connection', schema: pathSchema },
  claimKey: { flag: '--claim-key <file>', help: 'PEM private key of the claim certificate', schema: pathSchema },
  bootstrapUrl: { flag: '--bootstrap-url <url>', help: 'https:// URL of the bootstrap service', schema: z.string().min(1) },
  ca: {
    flag: '--ca <file>',
    help: 'PEM bundle of CA certificates to trust for the bootstrap and the IoT endpoints (default: system roots)',
    schema: pathSchema.optional(),
  },
  out: { flag: '--out <dir>', help: 'directory for the device key (mode 0600), certificate and state.json; created if missing', schema: pathSchema },
  certificateMode: {
    flag: '--certificate-mode <mode>',
    help: 'csr: key made on the device, AWS signs a CSR (default); keys: CreateKeysAndCertificate',
    schema: z.enum(['csr', 'keys']).default('csr'),
    choices: ['csr', 'keys'],
  },
  claimClientIdPrefix: {
    flag: '--claim-client-id-prefix <prefix>',
    help: "the claim session's client id is this prefix and the thing name: the deployment's claimClientIdPrefix (default prov-)",
    schema: claimClientIdPrefixSchema.default(DEFAULT_CLAIM_CLIENT_ID_PREFIX),
  },
  confirmationRule: {
    flag: '--confirmation-rule <name>',
    help: "the IoT rule the device confirms its provisioning through (Basic Ingest): the deployment's confirmationRuleName (default GlobalIotConfirmation)",
    schema: confirmationRuleNameSchema.default(DEFAULT_CONFIRMATION_RULE_NAME),
  },
  mqtt: { flag: '--mqtt <version>', help: 'MQTT protocol version (default 3.1.1)', schema: z.enum(['3.1.1', '5']).default('3.1.1'), choices: ['3.1.1', '5'] },
  parameters: {
    flag: '--param <name=value>',
    help: 'extra RegisterThing template parameter; repeat for more (ThingName and Ticket are set by the device)',
    // AWS IoT template parameter values are strings; names as in a template's Parameters.
    schema: z
      .record(z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'parameter names are 1-128 of [A-Za-z0-9_.:-]'), z.string().max(2048))
      .refine((p) => !Object.hasOwn(p, THING_NAME_PARAM) && !Object.hasOwn(p, TICKET_PARAM), {
        message: `${THING_NAME_PARAM} and ${TICKET_PARAM} are set by the device itself`,
      })
      .default({}),
    parse: collectParam,
  },
  port: { flag: '--port <port>', help: 'MQTT port when the endpoint names none (default 8883)', schema: z.number().int().min(1).max(65_535).default(8883), parse: toNumber },
  connectTimeoutMs: { flag: '--connect-timeout <ms>', help: 'time to open a connection, HTTPS or MQTT (default 10000)', schema: ms(100, 120_000).default(10_000), parse: toNumber },
  requestTimeoutMs: {
    flag: '--request-timeout <ms>',
    help: `time for one bootstrap attempt (default ${DEFAULT_BOOTSTRAP_TIMING.requestTimeoutMs})`,
    schema: ms(100, 300_000).default(DEFAULT_BOOTSTRAP_TIMING.requestTimeoutMs),
    parse: toNumber,
  },
  operationTimeoutMs: {
    flag: '--operation-timeout <ms>',
    help: 'time for one MQTT request such as RegisterThing (default 10000)',
    schema: ms(100, 300_000).default(10_000),
    parse: toNumber,
  },
  maxAttempts: {
    flag: '--max-attempts <n>',
    help: `bootstrap attempts in all, with exponential back-off and jitter (default ${DEFAULT_BOOTSTRAP_TIMING.maxAttempts})`,
    schema: z.number().int().min(1).max(20).default(DEFAULT_BOOTSTRAP_TIMING.maxAttempts),
    parse: toNumber,
  },
  maxQueueSeconds: {
    flag: '--max-queue <s>',
    help: `time the device may spend in the bootstrap's line (answers 429 with a Retry-After), which uses no attempt (default ${DEFAULT_BOOTSTRAP_TIMING.maxQueueMs / 1000})`,
    schema: z.number().int().min(0).max(3_600).default(DEFAULT_BOOTSTRAP_TIMING.maxQueueMs / 1000),
    parse: toNumber,
  },
  registerAttempts: {
    flag: '--register-attempts <n>',
    help: `tries of the whole registration (new ticket, certificate, RegisterThing) when AWS IoT throttles, fails or denies (default ${DEFAULT_REGISTER_ATTEMPTS})`,
    schema: z.number().int().min(1).max(10).default(DEFAULT_REGISTER_ATTEMPTS),
    parse: toNumber,
  },
  throttleAttempts: {
    flag: '--throttle-attempts <n>',
    help: `tries of one request AWS IoT throttles (429) or one refused MQTT CONNECT, in place, with exponential back-off and full jitter (default ${DEFAULT_THROTTLE_POLICY.attempts})`,
    schema: z.number().int().min(1).max(20).default(DEFAULT_THROTTLE_POLICY.attempts),
    parse: toNumber,
  },
  throttleBackoffMs: {
    flag: '--throttle-backoff <ms>',
    help: `first back-off ceiling after a throttled request; doubles each retry (default ${DEFAULT_THROTTLE_POLICY.baseBackoffMs})`,
    schema: ms(10, 60_000).default(DEFAULT_THROTTLE_POLICY.baseBackoffMs),
    parse: toNumber,
  },
  throttleMaxBackoffMs: {
    flag: '--throttle-max-backoff <ms>',
    help: `largest back-off ceiling after a throttled request (default ${DEFAULT_THROTTLE_POLICY.maxBackoffMs})`,
    schema: ms(10, 300_000).default(DEFAULT_THROTTLE_POLICY.maxBackoffMs),
    parse: toNumber,
  },
  measure: {
    flag: '--no-measure',
    help: 'take the first answer: do not time the TLS handshake to the regions it offers and ask again with the figures (measuring is on by default)',
    schema: z.boolean().default(DEFAULT_MEASURE_SETTINGS.enabled),
  },
  measureProbes: {
    flag: '--measure-probes <n>',
    help: `handshakes to each offered region; the fastest counts (default ${DEFAULT_MEASURE_SETTINGS.probes})`,
    schema: z.number().int().min(MEASURE_LIMITS.probes.min).max(MEASURE_LIMITS.probes.max).default(DEFAULT_MEASURE_SETTINGS.probes),
    parse: toNumber,
  },
  measureTimeoutMs: {
    flag: '--measure-timeout <ms>',
    help: `time for measuring every offered region, all at once (default ${DEFAULT_MEASURE_SETTINGS.timeoutMs})`,
    schema: ms(MEASURE_LIMITS.timeoutMs.min, MEASURE_LIMITS.timeoutMs.max).default(DEFAULT_MEASURE_SETTINGS.timeoutMs),
    parse: toNumber,
  },
  ...LIFECYCLE_SETTINGS,
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** Setting name -> the flag that sets it, for messages. */
export const SETTING_FLAGS = Object.fromEntries(Object.entries(SETTINGS).map(([name, setting]) => [name, flagName(setting)])) as Record<SettingName, string>;

type SettingsShape = { [K in SettingName]: (typeof SETTINGS)[K]['schema'] };
const settingsShape = Object.fromEntries(Object.entries(SETTINGS).map(([name, setting]) => [name, setting.schema])) as SettingsShape;

export const deviceSettingsSchema = z
  .object(settingsShape)
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
