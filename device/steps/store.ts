import type { Flow } from '../flow/context.js';
import type { MqttCredentials } from '../mqtt.js';
import type { BootstrappedState, RegisteredState } from '../store.js';

/**
 * Step `store`: the key and certificate, then the `registered` state that commits them. From
 * here on a killed run only reconnects.
 */
export async function storeRegistration(
  flow: Pick<Flow, 'step' | 'store' | 'now'>,
  bootstrapped: BootstrappedState,
  certificateId: string,
  deviceConfiguration: Record<string, string>,
  credentials: MqttCredentials,
): Promise<RegisteredState> {
  const state: RegisteredState = {
    ...bootstrapped,
    step: 'registered',
    certificateId,
    deviceConfiguration,
    updatedAt: new Date(flow.now()).toISOString(),
  };
  await flow.step('store', () => flow.store.saveRegistered(state, credentials), { region: bootstrapped.region });
  return state;
}
