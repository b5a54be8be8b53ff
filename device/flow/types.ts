import type { KeyObject } from 'node:crypto';
import type { LifecycleOptions } from '../lifecycle/options.js';
import type { BootstrapAnswer, BootstrapRequestBody } from '../bootstrap-client.js';
import type { ProvisionEvent, StepName } from '../events.js';
import type { HandshakeProbe } from '../handshake-probe.js';
import type { DeviceKeyAndCsr } from '../keys.js';
import type { MeasureSettings } from '../measure.js';
import type { MqttCredentials, MqttTarget, MqttTransport } from '../mqtt.js';
import type { DeviceStore } from '../store.js';
import type { ThrottlePolicy } from '../throttle.js';

/** What the flow is given: who the device is, how it provisions, and what it talks to. */

export type CertificateMode = 'csr' | 'keys';

export interface DeviceIdentity {
  readonly thingName: string;
  /** Signs the bootstrap request. */
  readonly signingKey: KeyObject;
  /** The claim certificate and key shared by the fleet. */
  readonly claim: MqttCredentials;
}

export const DEFAULT_REGISTER_ATTEMPTS = 3;
export const DEFAULT_REGISTER_BACKOFF_MS = 1_000;

export interface ProvisionOptions {
  readonly certificateMode: CertificateMode;
  /**
   * The claim session's client id is this prefix and the thing name: the deployment's
   * `claimClientIdPrefix` (default `prov-`, core/claim-client-id.ts). The claim policy refuses
   * any other client id, and the hook any other RegisterThing.
   */
  readonly claimClientIdPrefix?: string;
  /**
   * The rule the device confirms its provisioning through (Basic Ingest): the deployment's
   * `confirmationRuleName` (default `GlobalIotConfirmation`, core/confirmation.ts).
   */
  readonly confirmationRuleName?: string;
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
  /**
   * How a request AWS IoT throttles (429) or a refused CONNECT is tried again in place (default
   * `DEFAULT_THROTTLE_POLICY`); what is left out keeps its default.
   */
  readonly throttle?: Partial<ThrottlePolicy>;
  /**
   * Measuring the first answer's candidates (default `DEFAULT_MEASURE_SETTINGS`: on, 3 probes a
   * region, 2 s in all); what is left out keeps its default.
   */
  readonly measure?: Partial<MeasureSettings>;
  /** Rotation and moves of a provisioned device (lifecycle/options.ts). */
  readonly lifecycle?: LifecycleOptions;
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
  /**
   * Times one TLS handshake to a candidate (default: node:tls with the claim certificate and the
   * system's roots; give one with the roots the device trusts).
   */
  readonly probeHandshake?: HandshakeProbe;
  /** Waits between registration tries and throttled requests (default: a timer). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1): the back-off jitter (default Math.random). */
  readonly random?: () => number;
}

export interface ProvisionResult {
  readonly thingName: string;
  /**
   * `provisioned` by this run; `verified`: found provisioned and checked; `rotated` or `moved`:
   * this run switched to a new certificate (in a new region for a move) the cloud confirmed.
   */
  readonly outcome: 'provisioned' | 'verified' | 'rotated' | 'moved';
  readonly region: string;
  readonly endpoint: string;
  readonly port: number;
  readonly certificateId: string;
  /** Regions whose endpoint did not answer before one did. */
  readonly regionsSkipped: readonly string[];
  readonly durationMs: number;
  /** New credentials stored beside the current ones, waiting for the cloud to confirm the switch. */
  readonly pending?: { readonly kind: 'rotation' | 'move'; readonly certificateId: string; readonly region: string };
  /** A move or rotation that was asked for (or due) and did not go through on this run: the device carries on and tries again. */
  readonly deferred?: { readonly action: 'rotation' | 'move'; readonly reason: string };
}
