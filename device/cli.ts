import { Argument, Command, CommanderError, Option } from 'commander';
import { describeError } from '@global-iot/core/errors.js';
import { DEFAULT_BOOTSTRAP_TIMING, realBootstrapClientDeps, requestBootstrap } from './bootstrap-client.js';
import { loadDevice, parseDeviceSettings, readConfigFile, SETTING_FLAGS } from './config.js';
import { DeviceConfigError, StepFailed } from './errors.js';
import { tlsHandshakeProbe } from './handshake-probe.js';
import { generateKeyAndCsr } from './keys.js';
import { DEFAULT_MEASURE_SETTINGS } from './measure.js';
import { createCrtTransport } from './mqtt.js';
import { DEFAULT_REGISTER_ATTEMPTS, type ProvisionEvent, provisionDevice, STEPS, type StepName, toEventError } from './provision.js';
import { listenForRequests } from './lifecycle/listen.js';
import { lifecycleFlagValues, lifecycleOptions, lifecycleOptionsOf } from './lifecycle/settings.js';
import type { ProvisionResult } from './flow/types.js';
import { FileStore } from './store.js';
import { DEFAULT_THROTTLE_POLICY } from './throttle.js';

/**
 * `iot-provision`: the program a device runs on first boot (and on every boot: once provisioned
 * it only checks its credentials). Exit codes: 0 done, 1 provisioning failed, 2 bad input.
 */

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Test hook: the process kills itself (SIGKILL) right after the named step succeeds. */
export const CRASH_AFTER_ENV = 'IOT_PROVISION_CRASH_AFTER';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  /** What the crash hook calls; the real one is SIGKILL on this process. */
  crash: () => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  crash: () => process.kill(process.pid, 'SIGKILL'),
};

interface CliOptions {
  config?: string;
  thingName?: string;
  signingKey?: string;
  claimCert?: string;
  claimKey?: string;
  bootstrapUrl?: string;
  ca?: string;
  out?: string;
  certificateMode?: string;
  claimClientIdPrefix?: string;
  confirmationRule?: string;
  mqtt?: string;
  param?: Record<string, string>;
  port?: number;
  connectTimeout?: number;
  requestTimeout?: number;
  operationTimeout?: number;
  maxAttempts?: number;
  registerAttempts?: number;
  throttleAttempts?: number;
  throttleBackoff?: number;
  throttleMaxBackoff?: number;
  measure?: boolean;
  measureProbes?: number;
  measureTimeout?: number;
  json?: boolean;
}

function collectParam(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new DeviceConfigError(`--param: expected NAME=VALUE, got ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/** Anything but plain digits becomes NaN, which the settings schema then reports, naming the flag. */
const toNumber = (value: string): number => (/^\d+$/.test(value) ? Number(value) : Number.NaN);

export function buildProgram(io: Pick<CliIo, 'stdout'>): Command {
  const program = new Command()
    .name('iot-provision')
    .description(
      'Provision this device into the nearest AWS region: sign a bootstrap request, run AWS IoT fleet provisioning ' +
        'in the region it is given, store the new credentials and reconnect with them. Run it again at any time: ' +
        'an interrupted run resumes, a finished one only verifies the stored credentials.',
    )
    .option('--config <file>', 'JSON file with any of the settings below, by their camelCase names (e.g. "thingName"); flags win')
    .option('--thing-name <name>', 'the thing name this device was enrolled under (1-128 of [a-zA-Z0-9:_-])')
    .option('--signing-key <file>', 'PEM private key that signs the bootstrap request (RSA 2048-4096, EC P-256 or Ed25519)')
    .option('--claim-cert <file>', 'PEM claim certificate, shared by the fleet, for the first MQTT connection')
    .option('--claim-key <file>', 'PEM private key of the claim certificate')
    .option('--bootstrap-url <url>', 'https:// URL of the bootstrap service')
    .option('--ca <file>', 'PEM bundle of CA certificates to trust for the bootstrap and the IoT endpoints (default: system roots)')
    .option('--out <dir>', 'directory for the device key (mode 0600), certificate and state.json; created if missing')
    .addOption(
      new Option('--certificate-mode <mode>', 'csr: key made on the device, AWS signs a CSR (default); keys: CreateKeysAndCertificate').choices([
        'csr',
        'keys',
      ]),
    )
    .option('--claim-client-id-prefix <prefix>', "the claim session's client id is this prefix and the thing name: the deployment's claimClientIdPrefix (default prov-)")
    .option('--confirmation-rule <name>', "the IoT rule the device confirms its provisioning through (Basic Ingest): the deployment's confirmationRuleName (default GlobalIotConfirmation)")
    .addOption(new Option('--mqtt <version>', 'MQTT protocol version (default 3.1.1)').choices(['3.1.1', '5']))
    .option('--param <name=value>', 'extra RegisterThing template parameter; repeat for more (ThingName and Ticket are set by the device)', collectParam)
    .option('--port <port>', 'MQTT port when the endpoint names none (default 8883)', toNumber)
    .option('--connect-timeout <ms>', 'time to open a connection, HTTPS or MQTT (default 10000)', toNumber)
    .option('--request-timeout <ms>', `time for one bootstrap attempt (default ${DEFAULT_BOOTSTRAP_TIMING.requestTimeoutMs})`, toNumber)
    .option('--operation-timeout <ms>', 'time for one MQTT request such as RegisterThing (default 10000)', toNumber)
    .option('--max-attempts <n>', `bootstrap attempts in all, with exponential back-off and jitter (default ${DEFAULT_BOOTSTRAP_TIMING.maxAttempts})`, toNumber)
    .option(
      '--register-attempts <n>',
      `tries of the whole registration (new ticket, certificate, RegisterThing) when AWS IoT throttles, fails or denies (default ${DEFAULT_REGISTER_ATTEMPTS})`,
      toNumber,
    )
    .option(
      '--throttle-attempts <n>',
      `tries of one request AWS IoT throttles (429) or one refused MQTT CONNECT, in place, with exponential back-off and full jitter (default ${DEFAULT_THROTTLE_POLICY.attempts})`,
      toNumber,
    )
    .option('--throttle-backoff <ms>', `first back-off ceiling after a throttled request; doubles each retry (default ${DEFAULT_THROTTLE_POLICY.baseBackoffMs})`, toNumber)
    .option('--throttle-max-backoff <ms>', `largest back-off ceiling after a throttled request (default ${DEFAULT_THROTTLE_POLICY.maxBackoffMs})`, toNumber)
    .option(
      '--no-measure',
      'take the first answer: do not time the TLS handshake to the regions it offers and ask again with the figures (measuring is on by default)',
    )
    .option('--measure-probes <n>', `handshakes to each offered region; the fastest counts (default ${DEFAULT_MEASURE_SETTINGS.probes})`, toNumber)
    .option('--measure-timeout <ms>', `time for measuring every offered region, all at once (default ${DEFAULT_MEASURE_SETTINGS.timeoutMs})`, toNumber)
    .addArgument(new Argument('[command]', 'rotate: get a new certificate now, in the same region (a provisioned device)').choices(['rotate']))
    .option('--json', 'progress and result as JSON lines on stdout instead of text on stderr')
    .addHelpText(
      'after',
      [
        '',
        'Steps (named in progress and errors): ' + STEPS.join(', ') + '.',
        'Exit codes: 0 provisioned or verified, 1 provisioning failed (the message names the step), 2 invalid flags or files.',
        'Private keys and tickets are never printed.',
        '',
        'Environment:',
        `  ${CRASH_AFTER_ENV}=<step>  testing only: the process kills itself right after that step succeeds`,
      ].join('\n'),
    )
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    // Errors are reported by main() in one format; help goes to stdout.
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: () => undefined });
  for (const option of lifecycleOptions()) program.addOption(option);
  return program;
}

function formatText(event: ProvisionEvent): string | undefined {
  if (event.status === 'start') return undefined;
  const took = event.durationMs === undefined ? '' : ` (${Math.round(event.durationMs)} ms)`;
  const facts = [
    ...(event.region !== undefined ? [`region=${event.region}`] : []),
    ...Object.entries(event.detail ?? {}).map(([key, value]) => `${key}=${String(value)}`),
  ].join(' ');
  if (event.status === 'failed' || event.status === 'retry') {
    const verb = event.status === 'failed' ? 'FAILED' : 'retrying';
    return `${event.step} ${verb}${took}: ${event.error?.message ?? ''}${facts ? ` [${facts}]` : ''}\n`;
  }
  return `${event.step} ${event.status}${took}${facts ? ` ${facts}` : ''}\n`;
}

const VERBS: Record<ProvisionResult['outcome'], string> = {
  provisioned: 'provisioned',
  verified: 'already provisioned; credentials verified',
  rotated: 'certificate rotated',
  moved: 'moved',
};

function describeResult(thingName: string, result: ProvisionResult, out: string): string {
  const lines = [`${thingName}: ${VERBS[result.outcome]} in ${result.region} (${result.endpoint}:${result.port}), certificate ${result.certificateId.slice(0, 12)}…, credentials in ${out}`];
  if (result.pending) lines.push(`  new credentials for a ${result.pending.kind} (${result.pending.region}) wait for the cloud to confirm the switch; the next run goes on`);
  if (result.deferred) lines.push(`  ${result.deferred.action} not done now: ${result.deferred.reason}; the next run tries again`);
  return `${lines.join('\n')}\n`;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  let options: CliOptions;
  try {
    program.parse([...argv], { from: 'user' });
    options = program.opts<CliOptions>();
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help') return EXIT_OK;
      io.stderr(`iot-provision: ${error.message.replace(/^error: /, '')}\n(see iot-provision --help)\n`);
      return EXIT_USAGE;
    }
    if (error instanceof DeviceConfigError) {
      io.stderr(`iot-provision: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }

  const json = options.json === true;
  const emit = (event: ProvisionEvent): void => {
    if (json) {
      io.stdout(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
      return;
    }
    const line = formatText(event);
    if (line !== undefined) io.stderr(line);
  };

  let loaded;
  try {
    const fromFile = options.config === undefined ? {} : await readConfigFile(options.config);
    const fromFlags: Record<string, unknown> = {
      thingName: options.thingName,
      signingKey: options.signingKey,
      claimCert: options.claimCert,
      claimKey: options.claimKey,
      bootstrapUrl: options.bootstrapUrl,
      ca: options.ca,
      out: options.out,
      certificateMode: options.certificateMode,
      claimClientIdPrefix: options.claimClientIdPrefix,
      confirmationRule: options.confirmationRule,
      mqtt: options.mqtt,
      port: options.port,
      connectTimeoutMs: options.connectTimeout,
      requestTimeoutMs: options.requestTimeout,
      operationTimeoutMs: options.operationTimeout,
      maxAttempts: options.maxAttempts,
      registerAttempts: options.registerAttempts,
      throttleAttempts: options.throttleAttempts,
      throttleBackoffMs: options.throttleBackoff,
      throttleMaxBackoffMs: options.throttleMaxBackoff,
      // --no-measure only when given: otherwise commander's implied `true` would override the file.
      measure: program.getOptionValueSource('measure') === 'cli' ? options.measure : undefined,
      measureProbes: options.measureProbes,
      measureTimeoutMs: options.measureTimeout,
      ...lifecycleFlagValues(options as Record<string, unknown>),
    };
    const merged: Record<string, unknown> = { ...fromFile };
    for (const [key, value] of Object.entries(fromFlags)) if (value !== undefined) merged[key] = value;
    if (options.param !== undefined) {
      const fileParams = typeof fromFile.parameters === 'object' && fromFile.parameters !== null ? fromFile.parameters : {};
      merged.parameters = { ...fileParams, ...options.param };
    }
    loaded = await loadDevice(parseDeviceSettings(merged));
  } catch (error) {
    if (error instanceof DeviceConfigError) {
      io.stderr(`iot-provision: invalid settings:\n  ${error.message.split('\n').join('\n  ')}\n(see iot-provision --help)\n`);
      return EXIT_USAGE;
    }
    throw error;
  }

  const { settings, identity } = loaded;
  const crashAfter = io.env[CRASH_AFTER_ENV];
  if (crashAfter !== undefined && !(STEPS as readonly string[]).includes(crashAfter)) {
    io.stderr(`iot-provision: ${CRASH_AFTER_ENV} must be one of ${STEPS.join(', ')}\n`);
    return EXIT_USAGE;
  }

  const transport = createCrtTransport({
    protocol: loaded.protocol,
    ...(loaded.caPem !== undefined ? { caPem: loaded.caPem } : {}),
    connectTimeoutMs: settings.connectTimeoutMs,
    operationTimeoutMs: settings.operationTimeoutMs,
  });
  const bootstrapOptions = {
    url: loaded.bootstrapUrl,
    ...(loaded.caPem !== undefined ? { ca: loaded.caPem } : {}),
    ...DEFAULT_BOOTSTRAP_TIMING,
    connectTimeoutMs: settings.connectTimeoutMs,
    requestTimeoutMs: settings.requestTimeoutMs,
    maxAttempts: settings.maxAttempts,
  };
  const bootstrapDeps = {
    ...realBootstrapClientDeps,
    onRetry: (info: { attempt: number; delayMs: number; reason: string; status?: number }) =>
      emit({
        thingName: identity.thingName,
        step: 'bootstrap',
        status: 'retry',
        error: { name: 'BootstrapAttemptFailed', message: info.reason, ...(info.status !== undefined ? { status: info.status } : {}) },
        detail: { attempt: info.attempt, delayMs: info.delayMs },
      }),
  };

  const rotateNow = program.args[0] === 'rotate';
  const provisionOptions = {
    certificateMode: loaded.certificateMode,
    claimClientIdPrefix: settings.claimClientIdPrefix,
    confirmationRuleName: settings.confirmationRule,
    parameters: settings.parameters,
    defaultPort: settings.port,
    registerAttempts: settings.registerAttempts,
    throttle: { attempts: settings.throttleAttempts, baseBackoffMs: settings.throttleBackoffMs, maxBackoffMs: settings.throttleMaxBackoffMs },
    measure: { enabled: settings.measure, probes: settings.measureProbes, timeoutMs: settings.measureTimeoutMs },
    lifecycle: lifecycleOptionsOf(settings, rotateNow),
  };
  const provisionDeps = {
    store: new FileStore(settings.out),
    bootstrap: (makeBody: Parameters<typeof requestBootstrap>[0]) => requestBootstrap(makeBody, bootstrapOptions, bootstrapDeps),
    transport,
    generateKeyAndCsr,
    probeHandshake: tlsHandshakeProbe({ claim: identity.claim, ...(loaded.caPem !== undefined ? { caPem: loaded.caPem } : {}) }),
    now: Date.now,
    onEvent: emit,
    afterStep: (step: StepName) => {
      if (step === crashAfter) io.crash();
    },
  };

  try {
    // `rotate` asks the first run only: the runs the listener starts act on the shadow.
    let runs = 0;
    const run = () => provisionDevice(identity, runs++ === 0 ? provisionOptions : { ...provisionOptions, lifecycle: lifecycleOptionsOf(settings, false) }, provisionDeps);
    const result = settings.listenSeconds === undefined ? await run() : await listenForRequests(identity, provisionOptions, provisionDeps, settings.listenSeconds * 1000, run);
    if (json) io.stdout(`${JSON.stringify({ time: new Date().toISOString(), event: 'result', ...result })}\n`);
    else {
      io.stderr(describeResult(identity.thingName, result, settings.out));
    }
    return EXIT_OK;
  } catch (error) {
    const step = error instanceof StepFailed ? error.step : 'unknown';
    const detail = toEventError(error);
    if (json) io.stdout(`${JSON.stringify({ time: new Date().toISOString(), event: 'error', thingName: identity.thingName, step, error: detail })}\n`);
    else {
      io.stderr(`${identity.thingName}: provisioning failed at step ${step}: ${detail.message}\n`);
      if (step === 'load') io.stderr(`the files in ${settings.out} are not a consistent device state; move them away to provision again\n`);
    }
    if (!(error instanceof StepFailed) && !(error instanceof DeviceConfigError)) {
      io.stderr(`unexpected error: ${describeError(error)}\n`);
    }
    return error instanceof DeviceConfigError ? EXIT_USAGE : EXIT_FAILED;
  }
}

export { SETTING_FLAGS };
