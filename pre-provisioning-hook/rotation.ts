import { THING_NAME_PARAM } from '@global-iot/core/provisioning-params.js';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { isValidThingName } from '@global-iot/core/thing-name.js';

/**
 * The rotation template's rules (README, "A rotation"): a device asks for a new certificate over
 * its current one, so the RegisterThing must come from the thing's own connection (client id =
 * thing name, which the device policy grants only to a certificate attached to that thing), over
 * the certificate the registry has as the thing's (the event's `claimCertificateId`), in the
 * thing's region, while it is provisioned. No ticket: the current certificate is the proof. The
 * claim certificate, another device's certificate, a revoked or replaced one: all denied.
 */

export interface RotationEvent {
  readonly claimCertificateId: string;
  readonly certificateId: string;
  readonly clientId: string;
  readonly parameters: Readonly<Record<string, string>>;
}

export type RotationDecision = { allow: true; reason: string; thing: string } | { allow: false; reason: string; thing?: string };

const CERTIFICATE_ID = /^[0-9a-f]{64}$/;

export async function decideRotation(
  event: RotationEvent,
  region: string,
  deps: { registry: DeviceRegistry; maxAttempts: number },
): Promise<RotationDecision> {
  const thingName = event.parameters[THING_NAME_PARAM];
  if (thingName === undefined) return { allow: false, reason: 'missing thing name parameter' };
  if (!isValidThingName(thingName)) return { allow: false, reason: 'invalid thing name parameter' };
  if (event.clientId !== thingName) return { allow: false, reason: "rotation: the request did not come over the thing's own connection", thing: thingName };
  const current = event.claimCertificateId.toLowerCase();
  if (!CERTIFICATE_ID.test(current)) return { allow: false, reason: 'rotation: the requesting principal is not a certificate', thing: thingName };
  const outcome = await deps.registry.beginRotation({
    thingName,
    region,
    currentCertificateId: current,
    certificateId: event.certificateId.toLowerCase(),
    maxAttempts: deps.maxAttempts,
  });
  if (!outcome.allowed) return { allow: false, reason: `rotation: registry: ${outcome.reason}`, thing: thingName };
  return { allow: true, reason: outcome.repeated ? 'rotation repeated' : 'rotation allowed', thing: thingName };
}
