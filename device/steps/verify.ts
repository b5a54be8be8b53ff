import { storedTarget } from '../endpoint.js';
import type { Flow } from '../flow/context.js';
import type { MqttCredentials } from '../mqtt.js';
import type { ConfirmedState } from '../store.js';

/** Step `verify`: a provisioned device connects once with its stored certificate; nothing is written. */
export function verify(flow: Pick<Flow, 'step' | 'whileThrottled' | 'transport' | 'thingName'>, state: ConfirmedState, credentials: MqttCredentials): Promise<void> {
  const check = () => flow.transport.checkConnection(storedTarget(state), flow.thingName, credentials);
  return flow.step('verify', () => flow.whileThrottled('verify', state.region, check), { region: state.region });
}
