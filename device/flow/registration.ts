import type { MqttCredentials } from '../mqtt.js';
import { bootstrap } from '../steps/bootstrap.js';
import { connectWithFallback } from '../steps/connect.js';
import { createCertificate } from '../steps/create-certificate.js';
import { disconnect } from '../steps/disconnect.js';
import { measureAndAsk } from '../steps/measure.js';
import { registerThing } from '../steps/register-thing.js';
import { storeRegistration } from '../steps/store.js';
import type { RegisteredState } from '../store.js';
import type { Flow } from './context.js';

export interface Registered {
  readonly state: RegisteredState;
  readonly credentials: MqttCredentials;
  readonly regionsSkipped: readonly string[];
}

/**
 * One registration, from a fresh bootstrap call (and, measured, a second one) to the stored
 * credentials. Before `store`
 * nothing is worth keeping (the ticket is short-lived and never stored; an unregistered
 * certificate is deleted by AWS IoT after an hour), so a failed registration simply starts over.
 */
export async function register(flow: Flow): Promise<Registered> {
  const assigned = await measureAndAsk(flow, await bootstrap(flow));
  const { assignment, session, regionsSkipped } = await connectWithFallback(flow, assigned);
  try {
    const issued = await createCertificate(flow, session, assignment.target.region);
    const credentials: MqttCredentials = { certificatePem: issued.certificatePem, privateKeyPem: issued.privateKeyPem };
    const deviceConfiguration = await registerThing(flow, session, assignment, issued, credentials);
    const state = await storeRegistration(flow, assignment.bootstrapped, issued.certificateId, deviceConfiguration, credentials);
    return { state, credentials, regionsSkipped };
  } finally {
    await disconnect(flow, session, assignment.target.region);
  }
}
