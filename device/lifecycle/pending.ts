import type { CurrentDoc } from '@global-iot/core/lifecycle/shadow-protocol.js';
import { storedTarget } from '../endpoint.js';
import { toEventError } from '../events.js';
import type { Flow } from '../flow/context.js';
import type { DeviceSession, MqttCredentials } from '../mqtt.js';
import { CONFIRMATION_PAYLOAD } from '../steps/confirm.js';
import type { ConfirmedState, DeviceCredentials, PendingCredentials } from '../store.js';
import { acknowledge, lifecycleViewOf } from './shadow.js';

/**
 * New credentials beside the current ones, from storing them to the switch (README, "A move, in
 * two phases", "A rotation"): the device confirms with the new certificate (Basic Ingest, as on
 * first boot), then reads the shadow it will use from then on until the cloud's `current` names
 * the new certificate, and only then makes it its own. Until that moment the current
 * certificate is untouched and still works, so a crash or a time-out anywhere leaves a device
 * that runs on its old credentials and finishes the switch on a later run.
 */

export type Pending = ConfirmedState & { pending: PendingCredentials };

/** New credentials just stored, with the state that commits them. */
export interface Started {
  readonly state: Pending;
  readonly credentials: DeviceCredentials;
}

export type PendingOutcome =
  | { readonly switched: true; readonly state: ConfirmedState; readonly credentials: DeviceCredentials }
  | { readonly switched: false; readonly state: Pending; readonly reason: string };

const iso = (flow: Pick<Flow, 'now'>): string => new Date(flow.now()).toISOString();

/** Step `store-pending`: the new key and certificate in `next.*`, then the state that commits them. */
export async function storePending(flow: Pick<Flow, 'step' | 'store' | 'now'>, state: ConfirmedState, pending: PendingCredentials, credentials: DeviceCredentials): Promise<Pending> {
  const next: Pending = { ...state, pending, updatedAt: iso(flow) };
  await flow.step('store-pending', () => flow.store.savePending(next, credentials), {
    region: pending.region,
    describe: () => ({ detail: { kind: pending.kind, certificateId: pending.certificateId } }),
  });
  return next;
}

/** Publishes the confirmation with the new certificate, once: a repeat changes nothing in the cloud. */
async function confirmPending(flow: Pick<Flow, 'step' | 'whileThrottled' | 'transport' | 'store' | 'thingName' | 'now' | 'confirmationTopic'>, state: Pending, credentials: MqttCredentials): Promise<Pending> {
  const { pending } = state;
  if (pending.confirmedAt !== undefined) return state;
  const publish = () => flow.transport.publishAcknowledged(storedTarget(pending), flow.thingName, credentials, flow.confirmationTopic, CONFIRMATION_PAYLOAD);
  await flow.step('confirm', () => flow.whileThrottled('confirm', pending.region, publish), { region: pending.region, describe: () => ({ detail: { kind: pending.kind } }) });
  const confirmed: Pending = { ...state, pending: { ...pending, confirmedAt: iso(flow) }, updatedAt: iso(flow) };
  await flow.store.saveConfirmed(confirmed);
  return confirmed;
}

/** Reads the shadow until `current` names the new certificate, or the wait is over. */
async function currentSeen(flow: Pick<Flow, 'now' | 'sleep' | 'thingName' | 'lifecycle'>, session: DeviceSession, own: CurrentDoc): Promise<boolean> {
  const deadline = flow.now() + flow.lifecycle.switchWaitMs;
  for (;;) {
    const { current } = lifecycleViewOf(await session.getShadow(flow.thingName));
    if (current?.certificateId === own.certificateId && current.region === own.region) return true;
    if (flow.now() + flow.lifecycle.switchPollMs > deadline) return false;
    await flow.sleep(flow.lifecycle.switchPollMs);
  }
}

/** The state once the new credentials are the device's own: the pending certificate, region and endpoint. */
function switchedState(flow: Pick<Flow, 'now'>, state: Pending): ConfirmedState {
  const { pending, files: _files, ...rest } = state;
  return {
    ...rest,
    region: pending.region,
    endpoint: pending.endpoint,
    port: pending.port,
    templateName: pending.templateName,
    certificateId: pending.certificateId,
    deviceConfiguration: pending.deviceConfiguration,
    updatedAt: iso(flow),
  };
}

type Finishing = Pick<Flow, 'step' | 'report' | 'whileThrottled' | 'transport' | 'store' | 'thingName' | 'now' | 'sleep' | 'confirmationTopic' | 'lifecycle'>;

/**
 * Confirms with the pending credentials, waits for the cloud's switch, switches and acknowledges.
 * Anything that does not work out (no connection with the new certificate, no `current` in time)
 * leaves the pending credentials where they are, for the next run.
 */
export async function finishPending(flow: Finishing, stored: Pending, credentials: DeviceCredentials): Promise<PendingOutcome> {
  const { pending } = stored;
  const own: CurrentDoc = { certificateId: pending.certificateId, region: pending.region };
  let state = stored;
  let session: DeviceSession | undefined;
  try {
    state = await confirmPending(flow, state, credentials);
    session = await flow.whileThrottled('switch', pending.region, () => flow.transport.openDeviceSession(storedTarget(pending), flow.thingName, credentials));
    if (!(await currentSeen(flow, session, own))) {
      const reason = `the cloud has not confirmed the switch to ${pending.certificateId.slice(0, 12)}… in ${pending.region} within ${flow.lifecycle.switchWaitMs} ms`;
      flow.report({ step: 'switch', status: 'retry', region: pending.region, detail: { kind: pending.kind, waiting: reason } });
      return { switched: false, state, reason };
    }
    const switched = switchedState(flow, state);
    await flow.step('switch', () => flow.store.switchToPending(switched), { region: pending.region, describe: () => ({ detail: { kind: pending.kind, certificateId: pending.certificateId } }) });
    await acknowledge(flow, session, own);
    return { switched: true, state: switched, credentials };
  } catch (error) {
    flow.report({ step: 'switch', status: 'retry', region: pending.region, error: toEventError(error), detail: { kind: pending.kind } });
    return { switched: false, state, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    await session?.close().catch(() => undefined);
  }
}
