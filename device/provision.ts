import { createFlow, type Flow } from './flow/context.js';
import { registerWithRetries } from './flow/retry.js';
import type { DeviceIdentity, ProvisionDeps, ProvisionOptions, ProvisionResult } from './flow/types.js';
import { confirm } from './steps/confirm.js';
import { load } from './steps/load.js';
import { maintain, type Maintained } from './lifecycle/maintain.js';
import type { ConfirmedState, RegisteredState } from './store.js';

/**
 * The device's provisioning flow as a resumable state machine, one function per step
 * (`steps/`). The store's step marker says where a previous run stopped:
 *
 *     (nothing) | bootstrapped  ->  bootstrap, connect with the claim, create a certificate,
 *                                   RegisterThing, store  ->  registered
 *     registered                ->  connect with the new certificate, publish the confirmation
 *                                   (Basic Ingest) and see its PUBACK  ->  confirmed
 *     confirmed                 ->  connect to verify and read the shadow; then, when asked or
 *                                   due, a rotation or a move (lifecycle/): new credentials
 *                                   stored beside the current ones until the cloud confirms
 *                                   the switch
 *
 * A run killed anywhere resumes from the last committed marker (see flow/registration.ts for
 * why everything before `registered` simply starts over).
 */

export { STEPS, type StepName, type EventError, type ProvisionEvent, toEventError } from './events.js';
export { DEFAULT_MQTT_PORT, parseEndpoint } from './endpoint.js';
export { isRetryableRegistration } from './flow/retry.js';
export {
  type CertificateMode,
  DEFAULT_REGISTER_ATTEMPTS,
  DEFAULT_REGISTER_BACKOFF_MS,
  type DeviceIdentity,
  type ProvisionDeps,
  type ProvisionOptions,
  type ProvisionResult,
} from './flow/types.js';

function result(
  flow: Pick<Flow, 'thingName' | 'now'>,
  started: number,
  state: RegisteredState | ConfirmedState,
  outcome: ProvisionResult['outcome'],
  regionsSkipped: readonly string[],
  maintained?: Maintained,
): ProvisionResult {
  return {
    thingName: flow.thingName,
    outcome,
    region: state.region,
    endpoint: state.endpoint,
    port: state.port,
    certificateId: state.certificateId,
    regionsSkipped,
    durationMs: flow.now() - started,
    ...(maintained?.pending ? { pending: maintained.pending } : {}),
    ...(maintained?.deferred ? { deferred: maintained.deferred } : {}),
  };
}

/** Runs the flow to the end, or throws `StepFailed` naming the step that failed. */
export async function provisionDevice(identity: DeviceIdentity, options: ProvisionOptions, deps: ProvisionDeps): Promise<ProvisionResult> {
  const started = deps.now();
  const flow = createFlow(identity, options, deps);

  const stored = await load(flow);
  if (stored?.credentials !== undefined && stored.state.step === 'confirmed') {
    const maintained = await maintain(flow, { state: stored.state, credentials: stored.credentials, ...(stored.pending ? { pending: stored.pending } : {}) });
    return result(flow, started, maintained.state, maintained.outcome, [], maintained);
  }

  const registered = stored?.credentials !== undefined ? { ...stored, regionsSkipped: [] } : await registerWithRetries(flow);
  const confirmed = await confirm(flow, registered.state, registered.credentials);
  return result(flow, started, confirmed, 'provisioned', registered.regionsSkipped);
}
