import type { KeyObject } from 'node:crypto';
import { THING_NAME_PARAM, TICKET_PARAM } from '@global-iot/core/provisioning-params.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import type { BootstrapAnswer, BootstrapRequestBody } from './bootstrap-client.js';
import {
  AwsRejected,
  BootstrapRejected,
  BootstrapUnavailable,
  DeviceConfigError,
  InvalidAwsAnswer,
  InvalidBootstrapAnswer,
  MqttConnectFailed,
  MqttRequestFailed,
  NoRegionAnswered,
  StepFailed,
} from './errors.js';
import type { DeviceKeyAndCsr } from './keys.js';
import { assertCertificateMatchesKey, certificateIdOf, parseCertificate } from './keys.js';
import type { CreatedCertificate, IdentitySession, MqttCredentials, MqttTarget, MqttTransport } from './mqtt.js';
import type { BootstrappedState, ConfirmedState, DeviceStore, RegisteredState, StoredDevice } from './store.js';

/**
 * The device's provisioning flow as a resumable state machine. The store's step marker says
 * where a previous run stopped:
 *
 *     (nothing) | bootstrapped  ->  bootstrap, connect with the claim, create a certificate,
 *                                   RegisterThing, store  ->  registered
 *     registered                ->  connect with the new certificate  ->  confirmed
 *     confirmed                 ->  connect once to verify; nothing is written
 *
 * A run killed anywhere resumes from the last committed marker. Before `registered` nothing
 * the device holds is worth keeping (the ticket is short-lived and never stored; an unregistered
 * certificate is deleted by AWS IoT after an hour), so the device simply starts over with a
 * fresh bootstrap call, which the registry allows.
 */

export const STEPS = ['load', 'bootstrap', 'connect', 'create-certificate', 'register-thing', 'store', 'confirm', 'verify', 'disconnect'] as const;
export type StepName = (typeof STEPS)[number];

export type CertificateMode = 'csr' | 'keys';

/** What a failure looked like, with AWS's or the bootstrap's own words where there are some. */
export interface EventError {
  readonly name: string;
  readonly message: string;
  /** Bootstrap HTTP status, or AWS IoT's `statusCode`. */
  readonly status?: number;
  /** Bootstrap `code`, or AWS IoT's `errorCode`. */
  readonly code?: string;
}

export interface ProvisionEvent {
  readonly thingName: string;
  readonly step: StepName;
  readonly status: 'start' | 'ok' | 'retry' | 'failed' | 'skipped';
  readonly durationMs?: number;
  readonly region?: string;
  /** Non-secret facts about the step (never a key or a ticket). */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
  readonly error?: EventError;
}

export interface DeviceIdentity {
  readonly thingName: string;
  /** Signs the bootstrap request. */
  readonly signingKey: KeyObject;
  /** The claim certificate and key shared by the fleet. */
  readonly claim: MqttCredentials;
}

export interface ProvisionOptions {
  readonly certificateMode: CertificateMode;
  /** Extra RegisterThing parameters; ThingName and Ticket are the flow's own. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Port when the answer's endpoint names none (AWS IoT: 8883). */
  readonly defaultPort?: number;
  /**
   * Tries of the whole registration (fresh bootstrap, certificate, RegisterThing) when AWS IoT
   * throttles, fails, does not answer, or denies: a hook that errs or times out is reported as
   * access denied too, and the next bootstrap call tells a real refusal (blocked device) apart.
   */
  readonly registerAttempts?: number;
  /** First back-off ceiling between registration tries; doubles each time, full jitter. */
  readonly registerBackoffMs?: number;
}

export interface ProvisionDeps {
  readonly store: DeviceStore;
  /** The bootstrap call, retries included; `makeBody` is called once per attempt. */
  readonly bootstrap: (makeBody: () => BootstrapRequestBody) => Promise<BootstrapAnswer>;
  readonly transport: MqttTransport;
  readonly generateKeyAndCsr: (thingName: string) => Promise<DeviceKeyAndCsr>;
  readonly now: () => number;
  readonly onEvent: (event: ProvisionEvent) => void;
  /** Called after each step succeeds: crash tests stop the process here. */
  readonly afterStep?: (step: StepName) => void | Promise<void>;
  /**
   * How an answer's endpoint is reached; default `parseEndpoint` (host, optional port). A
   * simulator whose regions share one host on different ports maps regions to ports here, the
   * way a hosts file would map names to addresses.
   */
  readonly resolveEndpoint?: (region: string, endpointAddress: string) => MqttTarget;
  /** Waits between registration tries (default: a timer). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1): the back-off jitter (default Math.random). */
  readonly random?: () => number;
}

export interface ProvisionResult {
  readonly thingName: string;
  /** `provisioned` by this run, or `verified`: found provisioned and checked. */
  readonly outcome: 'provisioned' | 'verified';
  readonly region: string;
  readonly endpoint: string;
  readonly port: number;
  readonly certificateId: string;
  /** Regions whose endpoint did not answer before one did. */
  readonly regionsSkipped: readonly string[];
  readonly durationMs: number;
}

export const DEFAULT_MQTT_PORT = 8883;
export const DEFAULT_REGISTER_ATTEMPTS = 3;
export const DEFAULT_REGISTER_BACKOFF_MS = 1_000;
const MAX_REGISTER_BACKOFF_MS = 30_000;

/**
 * Failures of certificate creation or RegisterThing that another try may not have: no answer,
 * throttling, AWS-side errors, and access denied (what a failing or slow hook looks like).
 * A malformed request (400) or a missing template (404) fails the same way every time.
 */
export function isRetryableRegistration(error: unknown): boolean {
  if (!(error instanceof StepFailed) || (error.step !== 'create-certificate' && error.step !== 'register-thing')) return false;
  const cause = error.cause;
  if (cause instanceof MqttRequestFailed) return true;
  if (!(cause instanceof AwsRejected)) return false;
  const status = cause.statusCode;
  return status === undefined || status === 403 || status === 429 || status >= 500;
}

export function toEventError(error: unknown): EventError {
  const inner = error instanceof StepFailed && error.cause !== undefined ? error.cause : error;
  if (inner instanceof AwsRejected) {
    return {
      name: inner.name,
      message: inner.message,
      ...(inner.statusCode !== undefined ? { status: inner.statusCode } : {}),
      ...(inner.errorCode !== undefined ? { code: inner.errorCode } : {}),
    };
  }
  if (inner instanceof BootstrapRejected) return { name: inner.name, message: inner.message, status: inner.status, code: inner.code };
  if (inner instanceof BootstrapUnavailable) {
    return { name: inner.name, message: inner.message, ...(inner.lastStatus !== undefined ? { status: inner.lastStatus } : {}) };
  }
  if (inner instanceof Error) return { name: inner.name, message: inner.message };
  return { name: 'Error', message: String(inner) };
}

/** `host` or `host:port` from an answer, with the default port. */
export function parseEndpoint(endpointAddress: string, region: string, defaultPort: number): MqttTarget {
  const match = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(endpointAddress);
  const host = match?.[1];
  const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
  if (host === undefined || port < 1 || port > 65_535) throw new InvalidBootstrapAnswer(`endpoint ${endpointAddress} is not host[:port]`);
  return { region, host, port };
}

function checkParameters(parameters: Readonly<Record<string, string>>): void {
  for (const reserved of [THING_NAME_PARAM, TICKET_PARAM]) {
    if (Object.hasOwn(parameters, reserved)) {
      throw new DeviceConfigError(`parameter ${reserved} is set by the device itself and cannot be given`);
    }
  }
}

/** Runs the flow to the end, or throws `StepFailed` naming the step that failed. */
export async function provisionDevice(identity: DeviceIdentity, options: ProvisionOptions, deps: ProvisionDeps): Promise<ProvisionResult> {
  const { thingName } = identity;
  const started = deps.now();
  const defaultPort = options.defaultPort ?? DEFAULT_MQTT_PORT;
  const parameters = options.parameters ?? {};
  checkParameters(parameters);

  async function step<T>(
    name: StepName,
    run: () => Promise<T>,
    describe?: (value: T) => { region?: string; detail?: Record<string, string | number | boolean> },
    region?: string,
  ): Promise<T> {
    const at = deps.now();
    deps.onEvent({ thingName, step: name, status: 'start', ...(region !== undefined ? { region } : {}) });
    let value: T;
    try {
      value = await run();
    } catch (error) {
      const failed = error instanceof StepFailed ? error : new StepFailed(name, error);
      deps.onEvent({
        thingName,
        step: name,
        status: 'failed',
        durationMs: deps.now() - at,
        ...(region !== undefined ? { region } : {}),
        error: toEventError(failed),
      });
      throw failed;
    }
    const described = describe?.(value) ?? {};
    deps.onEvent({
      thingName,
      step: name,
      status: 'ok',
      durationMs: deps.now() - at,
      ...(region !== undefined ? { region } : {}),
      ...described,
    });
    await deps.afterStep?.(name);
    return value;
  }

  // Every request carries a newer timestamp than the last, even within one millisecond.
  let lastTimestamp = 0;
  const bootstrapOnce = (preferredRegion?: string): Promise<BootstrapAnswer> =>
    deps.bootstrap(() => {
      lastTimestamp = Math.max(deps.now(), lastTimestamp + 1);
      const body: BootstrapRequestBody = signedBootstrapRequest(identity.signingKey, thingName, lastTimestamp);
      if (preferredRegion !== undefined) body['preferred-region'] = preferredRegion;
      return body;
    });

  const result = (
    state: RegisteredState | ConfirmedState,
    outcome: ProvisionResult['outcome'],
    regionsSkipped: readonly string[],
  ): ProvisionResult => ({
    thingName,
    outcome,
    region: state.region,
    endpoint: state.endpoint,
    port: state.port,
    certificateId: state.certificateId,
    regionsSkipped,
    durationMs: deps.now() - started,
  });

  const stored: StoredDevice | undefined = await step(
    'load',
    () => deps.store.load(thingName),
    (value) => ({ detail: { found: value?.state.step ?? 'nothing' } }),
  );

  if (stored?.credentials !== undefined && stored.state.step === 'confirmed') {
    const { state, credentials } = stored;
    await step('verify', () => deps.transport.checkConnection(targetOf(state), thingName, credentials), undefined, state.region);
    return result(state, 'verified', []);
  }

  let registered: { state: RegisteredState | ConfirmedState; credentials: MqttCredentials };
  let regionsSkipped: string[] = [];
  if (stored?.credentials !== undefined) {
    registered = { state: stored.state, credentials: stored.credentials };
  } else {
    const outcome = await registerWithRetries();
    registered = outcome.registered;
    regionsSkipped = outcome.regionsSkipped;
  }

  const { state, credentials } = registered;
  await step('confirm', () => deps.transport.checkConnection(targetOf(state), thingName, credentials), undefined, state.region);
  const confirmed: ConfirmedState = { ...state, step: 'confirmed', confirmedAt: new Date(deps.now()).toISOString(), updatedAt: new Date(deps.now()).toISOString() };
  await deps.store.saveConfirmed(confirmed);
  return result(confirmed, 'provisioned', regionsSkipped);

  function targetOf(state: Pick<BootstrappedState, 'region' | 'endpoint' | 'port'>): MqttTarget {
    return { region: state.region, host: state.endpoint, port: state.port };
  }

  async function registerWithRetries(): ReturnType<typeof register> {
    const attempts = options.registerAttempts ?? DEFAULT_REGISTER_ATTEMPTS;
    const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const random = deps.random ?? Math.random;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await register();
      } catch (error) {
        if (attempt >= attempts || !isRetryableRegistration(error) || !(error instanceof StepFailed)) throw error;
        const ceiling = Math.min(MAX_REGISTER_BACKOFF_MS, (options.registerBackoffMs ?? DEFAULT_REGISTER_BACKOFF_MS) * 2 ** (attempt - 1));
        const delayMs = Math.floor(random() * ceiling);
        const step: StepName = error.step === 'create-certificate' ? 'create-certificate' : 'register-thing';
        deps.onEvent({ thingName, step, status: 'retry', error: toEventError(error), detail: { attempt, delayMs } });
        await sleep(delayMs);
      }
    }
  }

  async function register(): Promise<{ registered: { state: RegisteredState; credentials: MqttCredentials }; regionsSkipped: string[] }> {
    const skipped: string[] = [];
    // A bootstrap step is the call and the record of its answer, so a run killed after it
    // finds where it was sent.
    const bootstrapStep = (preferredRegion?: string) =>
      step(
        'bootstrap',
        async () => {
          const answer = await bootstrapOnce(preferredRegion);
          const target =
            deps.resolveEndpoint?.(answer.region, answer.endpointAddress) ?? parseEndpoint(answer.endpointAddress, answer.region, defaultPort);
          const bootstrapped: BootstrappedState = {
            version: 1,
            step: 'bootstrapped',
            thingName,
            region: target.region,
            endpoint: target.host,
            port: target.port,
            templateName: answer.templateName,
            updatedAt: new Date(deps.now()).toISOString(),
          };
          await deps.store.saveBootstrapped(bootstrapped);
          return { answer, target, bootstrapped };
        },
        ({ answer }) => ({
          region: answer.region,
          detail: {
            ...(answer.distance !== null ? { distanceKm: Math.round(answer.distance) } : {}),
            ...(answer.fallbacks.length > 0 ? { fallbacks: answer.fallbacks.map((f) => f.region).join(',') } : {}),
            ticketExpiresAt: answer.ticketExpiresAt,
          },
        }),
      );
    let current = await bootstrapStep();
    // The first answer's order of fallbacks is the device's order of preference from here on.
    const fallbacks = current.answer.fallbacks;

    for (;;) {
      const { answer, target, bootstrapped } = current;

      let session: IdentitySession;
      try {
        session = await step('connect', () => deps.transport.openIdentitySession(target, thingName, identity.claim), undefined, target.region);
      } catch (error) {
        if (!(error instanceof StepFailed && error.cause instanceof MqttConnectFailed)) throw error;
        skipped.push(target.region);
        const next = fallbacks.find((f) => !skipped.includes(f.region));
        if (next === undefined) {
          throw new StepFailed('connect', new NoRegionAnswered(`no region answered: tried ${skipped.join(', ')}`, { cause: error.cause }));
        }
        // The ticket names its region, so another region needs a fresh answer.
        current = await bootstrapStep(next.region);
        if (skipped.includes(current.answer.region)) {
          throw new StepFailed(
            'bootstrap',
            new NoRegionAnswered(`the bootstrap keeps the device in ${current.answer.region}, which does not answer (asked for ${next.region})`),
          );
        }
        continue;
      }

      try {
        const ticket = answer.ticket;
        const templateName = answer.templateName;
        const created = await step(
          'create-certificate',
          async () => {
            let made: CreatedCertificate & { privateKeyPem: string };
            // The key as parsed: the CSR path has it in hand; AWS's PEM is parsed once, below.
            let privateKey: KeyObject | string;
            if (options.certificateMode === 'keys') {
              const answer = await session.createKeysAndCertificate();
              if (answer.privateKeyPem === undefined) throw new InvalidAwsAnswer('CreateKeysAndCertificate returned no private key');
              made = { ...answer, privateKeyPem: answer.privateKeyPem };
              privateKey = answer.privateKeyPem;
            } else {
              const generated = await deps.generateKeyAndCsr(thingName);
              made = { ...(await session.createCertificateFromCsr(generated.csrPem)), privateKeyPem: generated.privateKeyPem };
              privateKey = generated.privateKey;
            }
            // Never store a certificate the device cannot use, or one that is not what AWS says it is.
            const certificate = parseCertificate(made.certificatePem);
            assertCertificateMatchesKey(certificate, privateKey);
            if (certificateIdOf(certificate) !== made.certificateId.toLowerCase()) {
              throw new InvalidAwsAnswer(`the certificate is not certificate ${made.certificateId}`);
            }
            return made;
          },
          (made) => ({ detail: { certificateId: made.certificateId, mode: options.certificateMode } }),
          target.region,
        );
        const certificateId = created.certificateId.toLowerCase();

        const credentials: MqttCredentials = { certificatePem: created.certificatePem, privateKeyPem: created.privateKeyPem };
        let thing: { deviceConfiguration: Record<string, string> };
        try {
          thing = await step(
            'register-thing',
            () =>
              session.registerThing(templateName, created.certificateOwnershipToken, {
                ...parameters,
                [THING_NAME_PARAM]: thingName,
                [TICKET_PARAM]: ticket,
              }),
            (value) => ({ detail: { thingName: value.thingName ?? thingName } }),
            target.region,
          );
        } catch (error) {
          if (!(error instanceof StepFailed && error.cause instanceof MqttRequestFailed)) throw error;
          // The answer was lost, but the registration may have landed: starting over with another
          // certificate would leave this one ACTIVE on the thing. If it connects, it is ours.
          const landed = await deps.transport.checkConnection(target, thingName, credentials).then(
            () => true,
            () => false,
          );
          if (!landed) throw error;
          deps.onEvent({ thingName, step: 'register-thing', status: 'ok', region: target.region, detail: { recovered: 'answer lost; the certificate connects' } });
          // The template's DeviceConfiguration came only in the lost answer.
          thing = { deviceConfiguration: {} };
        }

        const state: RegisteredState = {
          ...bootstrapped,
          step: 'registered',
          certificateId,
          deviceConfiguration: thing.deviceConfiguration,
          updatedAt: new Date(deps.now()).toISOString(),
        };
        await step('store', () => deps.store.saveRegistered(state, credentials), undefined, target.region);
        return { registered: { state, credentials }, regionsSkipped: skipped };
      } finally {
        await session.close().catch((error: unknown) => {
          // The credentials are already safe (or the step's own failure is on its way up); a
          // failed disconnect is reported, not fatal.
          deps.onEvent({ thingName, step: 'disconnect', status: 'failed', region: target.region, error: toEventError(error) });
        });
      }
    }
  }
}
