import { storedTarget } from '../endpoint.js';
import type { Flow } from '../flow/context.js';
import type { MqttCredentials } from '../mqtt.js';
import type { ConfirmedState, RegisteredState } from '../store.js';

/**
 * What the device publishes: nothing in it counts. The confirmation rule takes the thing and the
 * certificate from the connection (`clientid()`, `principal()`), so no payload can name another.
 */
export const CONFIRMATION_PAYLOAD = '{}';

/**
 * Step `confirm`: connects with the new certificate and publishes, once, to the confirmation
 * rule's Basic Ingest topic, at QoS 1; only AWS IoT's PUBACK counts. Then `confirmed` is recorded
 * and no later run publishes again, so reconnections cost no rule, no function and no write.
 *
 * What the PUBACK means: AWS IoT took the message for the rule (Basic Ingest never routes it to
 * subscribers). It does not mean the confirmation function ran: that happens afterwards, and a
 * failure there is retried by Lambda and then lands in the function's failure destination, which
 * the device cannot see. Everything before the PUBACK (no connection, a refused publish, a lost
 * PUBACK, a crash before `confirmed` is on disk) leaves the state `registered`, and the next run
 * publishes again: repeating a confirmation that landed changes nothing.
 */
export async function confirm(
  flow: Pick<Flow, 'step' | 'whileThrottled' | 'transport' | 'store' | 'thingName' | 'now' | 'confirmationTopic'>,
  state: RegisteredState | ConfirmedState,
  credentials: MqttCredentials,
): Promise<ConfirmedState> {
  const publish = () => flow.transport.publishAcknowledged(storedTarget(state), flow.thingName, credentials, flow.confirmationTopic, CONFIRMATION_PAYLOAD);
  await flow.step('confirm', () => flow.whileThrottled('confirm', state.region, publish), { region: state.region });
  const confirmed: ConfirmedState = {
    ...state,
    step: 'confirmed',
    confirmedAt: new Date(flow.now()).toISOString(),
    updatedAt: new Date(flow.now()).toISOString(),
  };
  await flow.store.saveConfirmed(confirmed);
  return confirmed;
}
