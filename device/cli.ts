import { Argument, Command, CommanderError } from 'commander';
import { describeError } from '@global-iot/core/errors.js';
import { DEFAULT_BOOTSTRAP_TIMING, realBootstrapClientDeps, requestBootstrap } from './bootstrap-client.js';
import { loadDevice, parseDeviceSettings, readConfigFile, SETTING_FLAGS, SETTINGS } from './config.js';
import { DeviceConfigError, StepFailed } from './errors.js';
import { tlsHandshakeProbe } from './handshake-probe.js';
import { generateKeyAndCsr } from './keys.js';
import { createCrtTransport } from './mqtt.js';
import { type ProvisionEvent, provisionDevice, STEPS, type StepName, toEventError } from './provision.js';
import { listenForRequests } from './lifecycle/listen.js';
import { lifecycleOptionsOf } from './lifecycle/settings.js';
import { optionOf } from './setting.js';
import type { ProvisionResult } from './flow/types.js';
import { FileStore } from './store.js';

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
  json?: boolean;
}

export function buildProgram(io: Pick<CliIo, 'stdout'>): Command {
  const program = new Command()
    .name('iot-provision')
    .description(
      'Provision this device into the nearest AWS region: sign a bootstrap request, run AWS IoT fleet provisioning ' +
        'in the region it is given, store the new credentials and reconnect with them. Run it again at any time: ' +
        'an interrupted run resumes, a finished one only verifies the stored credentials.',
    )
    .option('--config <file>', 'JSON file with any of the settings below, by their camelCase names (e.g. "thingName"); flags win')
    .addArgument(new Argument('[command]', 'rotate: get a new certificate now, in the same region (a provisioned device)').choices(['rotate']));
  for (const setting of Object.values(SETTINGS)) program.addOption(optionOf(setting));
  return program
    .option('--json', 'progress and result as JSON lines on stdout instead of text on stderr')
    .addHelpText(
      'after',
      [
        '',
        'Steps (named in progress and errors): ' + STEPS.join(', ') + '.',
        'Exit codes: 0 provisioned, verified, rotated or moved (a move or rotation that must wait included), 1 provisioning or rotate failed (the message names the step), 2 invalid flags or files.',
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
  let rawOptions: Record<string, unknown>;
  try {
    program.parse([...argv], { from: 'user' });
    rawOptions = program.opts();
    options = rawOptions as CliOptions;
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
    // Only what was given on the command line: a setting left out keeps the file's value (or its default).
    const fromFlags: Record<string, unknown> = {};
    for (const [name, setting] of Object.entries(SETTINGS)) {
      const attribute = optionOf(setting).attributeName();
      if (program.getOptionValueSource(attribute) === 'cli') fromFlags[name] = rawOptions[attribute];
    }
    const merged: Record<string, unknown> = { ...fromFile };
    for (const [key, value] of Object.entries(fromFlags)) if (value !== undefined) merged[key] = value;
    // --param adds to the file's parameters rather than replacing them.
    if (fromFlags['parameters'] !== undefined) {
      const fileParams = typeof fromFile.parameters === 'object' && fromFile.parameters !== null ? fromFile.parameters : {};
      merged.parameters = { ...fileParams, ...(fromFlags['parameters'] as Record<string, string>) };
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
    maxQueueMs: settings.maxQueueSeconds * 1000,
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
