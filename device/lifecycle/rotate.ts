import { THING_NAME_PARAM } from '@global-iot/core/provisioning-params.js';
import type { Flow } from '../flow/context.js';
import type { DeviceSession } from '../mqtt.js';
import { createCertificate } from '../steps/create-certificate.js';
import type { ConfirmedState, PendingCredentials } from '../store.js';
import { storePending } from './pending.js';

type Rotating = Pick<
  Flow,
  'step' | 'report' | 'whileThrottled' | 'certificateMode' | 'generateKeyAndCsr' | 'thingName' | 'store' | 'now' | 'lifecycle'
>;

/**
 * A new certificate in the same region (README, "A rotation"): over the device's own connection
 * (its current certificate, client id = thing name), CreateCertificateFromCsr, then RegisterThing
 * with the rotation template and only the thing name (no ticket: the current certificate is the
 * proof, and the hook checks it against the registry), then the new credentials stored beside the
 * current ones. The current certificate is not touched: a refusal or a crash leaves the device
 * as it was.
 */
export async function startRotation(flow: Rotating, state: ConfirmedState, session: DeviceSession, requestId: string) {
  const region = state.region;
  const issued = await createCertificate(flow, session, region);
  const template = flow.lifecycle.rotationTemplateName;
  const thing = await flow.step(
    'register-thing',
    () => flow.whileThrottled('register-thing', region, () => session.registerThing(template, issued.certificateOwnershipToken, { [THING_NAME_PARAM]: flow.thingName })),
    { region, describe: () => ({ detail: { template, kind: 'rotation' } }) },
  );
  const pending: PendingCredentials = {
    kind: 'rotation',
    requestId,
    certificateId: issued.certificateId,
    region,
    endpoint: state.endpoint,
    port: state.port,
    templateName: state.templateName,
    deviceConfiguration: { ...state.deviceConfiguration, ...thing.deviceConfiguration },
    storedAt: new Date(flow.now()).toISOString(),
  };
  const credentials = { certificatePem: issued.certificatePem, privateKeyPem: issued.privateKeyPem };
  return { state: await storePending(flow, state, pending, credentials), credentials };
}
