import { claimClientId, DEFAULT_CLAIM_CLIENT_ID_PREFIX } from '@global-iot/core/claim-client-id.js';
import { confirmationTopic, DEFAULT_CONFIRMATION_RULE_NAME } from '@global-iot/core/confirmation.js';
import { THING_NAME_PARAM, TICKET_PARAM } from '@global-iot/core/provisioning-params.js';
import type { BootstrapAnswer } from '../bootstrap-client.js';
import { DEFAULT_MQTT_PORT, parseEndpoint } from '../endpoint.js';
import { DeviceConfigError } from '../errors.js';
import { type ProvisionEvent, type StepName, toEventError } from '../events.js';
import type { DeviceKeyAndCsr } from '../keys.js';
import type { MqttTarget, MqttTransport } from '../mqtt.js';
import { type HandshakeProbe, tlsHandshakeProbe } from '../handshake-probe.js';
import { DEFAULT_MEASURE_SETTINGS, type MeasureSettings } from '../measure.js';
import { type LifecycleSettings, lifecycleSettings } from '../lifecycle/options.js';
import { type BootstrapAsk, signedBootstrapRequester } from '../steps/bootstrap.js';
import type { DeviceStore } from '../store.js';
import { DEFAULT_THROTTLE_POLICY, type ThrottlePolicy, whileThrottled } from '../throttle.js';
import { type RunStep, stepRunner } from './run-step.js';
import {
  type CertificateMode,
  DEFAULT_REGISTER_ATTEMPTS,
  DEFAULT_REGISTER_BACKOFF_MS,
  type DeviceIdentity,
  type ProvisionDeps,
  type ProvisionOptions,
} from './types.js';

/** One run of the flow: its options with their defaults, its dependencies, and how steps report. */
export interface Flow {
  readonly thingName: string;
  readonly identity: DeviceIdentity;
  readonly certificateMode: CertificateMode;
  /** The claim session's client id (`<prefix><thing>`). */
  readonly claimClientId: string;
  /** Where the device publishes its one confirmation (Basic Ingest). */
  readonly confirmationTopic: string;
  readonly parameters: Readonly<Record<string, string>>;
  readonly registerAttempts: number;
  readonly registerBackoffMs: number;
  readonly throttle: ThrottlePolicy;
  readonly store: DeviceStore;
  readonly transport: MqttTransport;
  readonly generateKeyAndCsr: (thingName: string) => Promise<DeviceKeyAndCsr>;
  readonly now: () => number;
  /** A monotonic clock in ms, for timing handshakes (the wall clock may step). */
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  /** Where an answer's endpoint is reached. */
  readonly locate: (region: string, endpointAddress: string) => MqttTarget;
  /** One bootstrap call (its own retries included), signed afresh for every attempt. */
  readonly requestBootstrap: (ask?: BootstrapAsk) => Promise<BootstrapAnswer>;
  /** Whether and how the candidates of the first answer are measured. */
  readonly measure: MeasureSettings;
  /** Rotation and moves after the first boot, with their defaults. */
  readonly lifecycle: LifecycleSettings;
  readonly probeHandshake: HandshakeProbe;
  readonly step: RunStep;
  /** Runs one request of `step`, again after a back-off while AWS IoT throttles it; each wait is reported. */
  readonly whileThrottled: <T>(step: StepName, region: string, request: () => Promise<T>) => Promise<T>;
  /** An event outside a step's start and end (retries, recoveries, a failed disconnect). */
  readonly report: (event: Omit<ProvisionEvent, 'thingName'>) => void;
}

const timer = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

function checkParameters(parameters: Readonly<Record<string, string>>): void {
  for (const reserved of [THING_NAME_PARAM, TICKET_PARAM]) {
    if (Object.hasOwn(parameters, reserved)) {
      throw new DeviceConfigError(`parameter ${reserved} is set by the device itself and cannot be given`);
    }
  }
}

/** The run's context; a `DeviceConfigError` for parameters the device sets itself. */
export function createFlow(identity: DeviceIdentity, options: ProvisionOptions, deps: ProvisionDeps): Flow {
  const { thingName } = identity;
  const parameters = options.parameters ?? {};
  checkParameters(parameters);
  const defaultPort = options.defaultPort ?? DEFAULT_MQTT_PORT;
  const throttle: ThrottlePolicy = { ...DEFAULT_THROTTLE_POLICY, ...options.throttle };
  const sleep = deps.sleep ?? timer;
  const random = deps.random ?? Math.random;
  const report = (event: Omit<ProvisionEvent, 'thingName'>): void => deps.onEvent({ thingName, ...event });
  return {
    thingName,
    identity,
    certificateMode: options.certificateMode,
    claimClientId: claimClientId(options.claimClientIdPrefix ?? DEFAULT_CLAIM_CLIENT_ID_PREFIX, thingName),
    confirmationTopic: confirmationTopic(options.confirmationRuleName ?? DEFAULT_CONFIRMATION_RULE_NAME),
    parameters,
    registerAttempts: options.registerAttempts ?? DEFAULT_REGISTER_ATTEMPTS,
    registerBackoffMs: options.registerBackoffMs ?? DEFAULT_REGISTER_BACKOFF_MS,
    throttle,
    store: deps.store,
    transport: deps.transport,
    generateKeyAndCsr: deps.generateKeyAndCsr,
    now: deps.now,
    clock: () => performance.now(),
    sleep,
    random,
    measure: { ...DEFAULT_MEASURE_SETTINGS, ...options.measure },
    lifecycle: lifecycleSettings(options.lifecycle),
    probeHandshake: deps.probeHandshake ?? tlsHandshakeProbe({ claim: identity.claim }),
    locate: deps.resolveEndpoint ?? ((region, endpointAddress) => parseEndpoint(endpointAddress, region, defaultPort)),
    requestBootstrap: signedBootstrapRequester(identity, deps.bootstrap, deps.now),
    step: stepRunner(thingName, deps),
    whileThrottled: (step, region, request) =>
      whileThrottled(request, {
        policy: throttle,
        sleep,
        random,
        onRetry: ({ attempt, delayMs, error }) =>
          report({ step, status: 'retry', region, error: toEventError(error), detail: { attempt, delayMs, throttled: true } }),
      }),
    report,
  };
}
