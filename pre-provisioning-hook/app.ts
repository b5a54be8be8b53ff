import { performance } from 'node:perf_hooks';
import { describeError } from '@global-iot/core/errors.js';
import type { InvocationRecorder } from '@global-iot/core/lambda-telemetry.js';
import { confirmationEventSchema } from '@global-iot/core/confirmation.js';
import { certificateIdSchema, type HookResponse } from '@global-iot/core/provisioning-params.js';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { isValidThingName } from '@global-iot/core/thing-name.js';
import { decideProvisioning, type HookDeps } from './hook.js';

/**
 * Handler factories. The AWS entry points (handler.ts, confirm-handler.ts) build their
 * dependencies from the environment; the local cloud builds one set per emulated region and
 * calls these directly. Nothing here reads the environment.
 */

/** The pre-provisioning hook, as AWS IoT invokes it on RegisterThing. */
export function createHookHandler(deps: HookDeps): (event: unknown) => Promise<HookResponse> {
  return (event) => decideProvisioning(event, deps);
}

export interface ConfirmDeps {
  registry: DeviceRegistry;
  /** The region this handler serves: a device is confirmed only where it was provisioned. */
  region: string;
  /** Receives one record per event (log line and metrics). */
  record: InvocationRecorder;
}

/**
 * Marks a device provisioned when it confirms with the certificate the hook allowed. Fed by the
 * region's confirmation rule (core/confirmation.ts): a device's first connection with its new
 * certificate publishes once to the rule's Basic Ingest topic, and the rule hands over the
 * connection's client id (the thing, which the device policy holds to the thing name) and
 * principal (the certificate id), never anything from the payload. Locally, the emulated rules
 * engine does the same.
 *
 * Returns `{ confirmed: false }` for events that are not a provisioned device's first
 * confirmation (another certificate, another region, a repeated or malformed event). Throws when
 * the registry is unavailable, so that the asynchronous invocation is retried; should every
 * retry fail, the event goes to the function's failure destination, and the device, which saw its
 * publish acknowledged, does not send it again (still safe: the hook keeps refusing other
 * certificates; see README.md, "Confirmation").
 */
export function createConfirmHandler(deps: ConfirmDeps): (event: unknown) => Promise<{ confirmed: boolean }> {
  return async (event) => {
    const started = performance.now();
    const finish = (
      outcome: 'confirmed' | 'not-confirmed' | 'error',
      reason: string,
      about: { thing?: string; certificateId?: string; error?: string } = {},
    ): { confirmed: boolean } => {
      const { thing, ...fields } = about;
      deps.record({
        event: 'provisioning-confirmation',
        ...(thing === undefined ? {} : { thing }),
        outcome,
        durationMs: performance.now() - started,
        fields: { region: deps.region, ...fields, reason },
        dimensions: [{ Outcome: outcome }, { Reason: reason }],
      });
      return { confirmed: outcome === 'confirmed' };
    };

    const parsed = confirmationEventSchema.safeParse(event);
    if (!parsed.success) return finish('not-confirmed', 'malformed confirmation event');
    const { clientId: thing, principal: certificateId } = parsed.data;
    if (!isValidThingName(thing)) return finish('not-confirmed', 'client id is not a thing name');
    if (!certificateIdSchema.safeParse(certificateId).success) {
      return finish('not-confirmed', 'principal is not a certificate', { thing });
    }
    let confirmed: boolean;
    try {
      confirmed = await deps.registry.confirm(thing, certificateId, deps.region);
    } catch (error) {
      finish('error', 'registry error', { thing, certificateId, error: describeError(error) });
      throw error;
    }
    return confirmed
      ? finish('confirmed', 'confirmed', { thing, certificateId })
      : finish('not-confirmed', 'not the certificate the hook allowed here', { thing, certificateId });
  };
}
