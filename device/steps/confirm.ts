import { storedTarget } from '../endpoint.js';
import type { Flow } from '../flow/context.js';
import type { MqttCredentials } from '../mqtt.js';
import type { ConfirmedState, RegisteredState } from '../store.js';

/**
 * Step `confirm`: reconnects with the new certificate, which AWS IoT's presence event (and so
 * the registry) takes as the confirmation, then records `confirmed`. The record comes after the
 * step has reported success: a run killed in between confirms again, which changes nothing.
 */
export async function confirm(
  flow: Pick<Flow, 'step' | 'whileThrottled' | 'transport' | 'store' | 'thingName' | 'now'>,
  state: RegisteredState | ConfirmedState,
  credentials: MqttCredentials,
): Promise<ConfirmedState> {
  // Right after the claim session, so within AWS IoT's one CONNECT per second per client id.
  const check = () => flow.transport.checkConnection(storedTarget(state), flow.thingName, credentials);
  await flow.step('confirm', () => flow.whileThrottled('confirm', state.region, check), { region: state.region });
  const confirmed: ConfirmedState = {
    ...state,
    step: 'confirmed',
    confirmedAt: new Date(flow.now()).toISOString(),
    updatedAt: new Date(flow.now()).toISOString(),
  };
  await flow.store.saveConfirmed(confirmed);
  return confirmed;
}
