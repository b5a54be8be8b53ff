import type { Measurement } from '@global-iot/core/measurements.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import type { BootstrapAnswer, BootstrapRequestBody } from '../bootstrap-client.js';
import type { Flow } from '../flow/context.js';
import type { StepFacts } from '../flow/run-step.js';
import type { DeviceIdentity, ProvisionDeps } from '../flow/types.js';
import type { MqttTarget } from '../mqtt.js';
import type { BootstrappedState } from '../store.js';

/** Where the bootstrap sent the device: its answer, the endpoint to reach, and the state recorded. */
export interface Assignment {
  readonly answer: BootstrapAnswer;
  /** When the answer arrived (the device's clock, epoch ms). */
  readonly receivedAt: number;
  readonly target: MqttTarget;
  readonly bootstrapped: BootstrappedState;
}

/** What a bootstrap request asks besides the device's name: a fallback region, or measured figures. */
export interface BootstrapAsk {
  /** One of the first answer's fallbacks, after its region did not answer. */
  readonly preferredRegion?: string;
  /** Handshake times to the candidates of an earlier answer (signed as v2). */
  readonly measurements?: readonly Measurement[];
}

/**
 * The bootstrap call, signed afresh for every attempt: each request carries a newer timestamp
 * than the last, even within one millisecond, because the service refuses a timestamp it has
 * already accepted.
 */
export function signedBootstrapRequester(
  identity: DeviceIdentity,
  bootstrap: ProvisionDeps['bootstrap'],
  now: () => number,
): (ask?: BootstrapAsk) => Promise<BootstrapAnswer> {
  let lastTimestamp = 0;
  return (ask = {}) =>
    bootstrap(() => {
      lastTimestamp = Math.max(now(), lastTimestamp + 1);
      const body: BootstrapRequestBody = signedBootstrapRequest(identity.signingKey, identity.thingName, lastTimestamp, ask.measurements ?? []);
      if (ask.preferredRegion !== undefined) body['preferred-region'] = ask.preferredRegion;
      return body;
    });
}

/** Where an answer sends the device, and the state that records it (saved on first boot, not on a move). */
export function assignmentOf(flow: Pick<Flow, 'locate' | 'thingName' | 'now'>, answer: BootstrapAnswer): Assignment {
  const target = flow.locate(answer.region, answer.endpointAddress);
  const bootstrapped: BootstrappedState = {
    version: 1,
    step: 'bootstrapped',
    thingName: flow.thingName,
    region: target.region,
    endpoint: target.host,
    port: target.port,
    templateName: answer.templateName,
    updatedAt: new Date(flow.now()).toISOString(),
  };
  return { answer, receivedAt: flow.now(), target, bootstrapped };
}

function describeAnswer({ answer }: Assignment): StepFacts {
  return {
    region: answer.region,
    detail: {
      ...(answer.distance !== null ? { distanceKm: Math.round(answer.distance) } : {}),
      ...(answer.fallbacks.length > 0 ? { fallbacks: answer.fallbacks.map((f) => f.region).join(',') } : {}),
      ...(answer.placement !== undefined ? { placement: answer.placement } : {}),
      ticketExpiresAt: answer.ticketExpiresAt,
    },
  };
}

/**
 * Step `bootstrap`: the call and the record of its answer, so a run killed after it finds where
 * it was sent. The ticket is not recorded: a resumed run asks for a fresh one.
 */
export function bootstrap(
  flow: Pick<Flow, 'step' | 'requestBootstrap' | 'locate' | 'store' | 'thingName' | 'now'>,
  ask: BootstrapAsk = {},
): Promise<Assignment> {
  return flow.step(
    'bootstrap',
    async () => {
      const assignment = assignmentOf(flow, await flow.requestBootstrap(ask));
      await flow.store.saveBootstrapped(assignment.bootstrapped);
      return assignment;
    },
    { describe: describeAnswer },
  );
}
