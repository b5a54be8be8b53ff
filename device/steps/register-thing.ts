import { THING_NAME_PARAM, TICKET_PARAM } from '@global-iot/core/provisioning-params.js';
import { MqttRequestFailed, StepFailed } from '../errors.js';
import type { Flow } from '../flow/context.js';
import type { IdentitySession, MqttCredentials } from '../mqtt.js';
import { awaitRegisterSlot } from './await-register-slot.js';
import type { Assignment } from './bootstrap.js';
import type { IssuedCredentials } from './create-certificate.js';

type Registering = Pick<Flow, 'step' | 'whileThrottled' | 'transport' | 'thingName' | 'parameters' | 'report' | 'now' | 'sleep'>;

/**
 * The answer was lost, but the registration may have landed: starting over with another
 * certificate would leave this one ACTIVE on the thing. If the new certificate connects, it is
 * ours, and the registration stands.
 */
async function landedAnyway(flow: Registering, assignment: Assignment, credentials: MqttCredentials): Promise<boolean> {
  const { target } = assignment;
  // A throttled CONNECT would read as "not registered", and leave this certificate ACTIVE.
  const check = () => flow.transport.checkConnection(target, flow.thingName, credentials);
  const landed = await flow.whileThrottled('register-thing', target.region, check).then(
    () => true,
    () => false,
  );
  if (landed) {
    flow.report({ step: 'register-thing', status: 'ok', region: target.region, detail: { recovered: 'answer lost; the certificate connects' } });
  }
  return landed;
}

/**
 * Step `register-thing`: RegisterThing with the template and ticket of the answer, at the time
 * the answer gives (await-register-slot.ts), and the template's DeviceConfiguration as the result.
 */
export async function registerThing(
  flow: Registering,
  session: IdentitySession,
  assignment: Assignment,
  issued: IssuedCredentials,
  credentials: MqttCredentials,
): Promise<Record<string, string>> {
  const { answer, target } = assignment;
  await awaitRegisterSlot(flow, assignment);
  try {
    const thing = await flow.step(
      'register-thing',
      () =>
        flow.whileThrottled('register-thing', target.region, () =>
          session.registerThing(answer.templateName, issued.certificateOwnershipToken, {
            ...flow.parameters,
            [THING_NAME_PARAM]: flow.thingName,
            [TICKET_PARAM]: answer.ticket,
          }),
        ),
      { region: target.region, describe: (value) => ({ detail: { thingName: value.thingName ?? flow.thingName } }) },
    );
    return thing.deviceConfiguration;
  } catch (error) {
    if (!(error instanceof StepFailed && error.cause instanceof MqttRequestFailed)) throw error;
    if (!(await landedAnyway(flow, assignment, credentials))) throw error;
    // The template's DeviceConfiguration came only in the lost answer.
    return {};
  }
}
