import { performance } from 'node:perf_hooks';
import { describeError } from '@global-iot/core/errors.js';
import type { InvocationRecorder } from '@global-iot/core/lambda-telemetry.js';
import { confirmationEventSchema } from '@global-iot/core/confirmation.js';
import { type Completion, type CompletionDeps, completeConfirmation } from '@global-iot/core/lifecycle/complete.js';
import { certificateIdSchema, type HookResponse } from '@global-iot/core/provisioning-params.js';
import type { Confirmation, DeviceRegistry } from '@global-iot/core/registry/index.js';
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
  /**
   * The IoT control plane and data plane of every region, one cached client each
   * (lifecycle-clients.ts): completing a move copies from and retires in the region the device
   * left (core/lifecycle/complete.ts).
   */
  clients: Pick<CompletionDeps, 'iot' | 'shadows' | 'sleep'>;
}

/** A completion left clean-up undone: thrown so that the invocation is retried (README, "A move, in two phases"). */
export class CleanupPending extends Error {
  override name = 'CleanupPending';
}

type ConfirmOutcome = 'confirmed' | 'not-confirmed' | 'error';
type Finish = (outcome: ConfirmOutcome, reason: string, about?: { thing?: string; certificateId?: string; error?: string; [field: string]: unknown }) => { confirmed: boolean };

/** What a completion did, for the log line: never certificates' keys, only ids and counts. */
function completionFields(completion: Completion): Record<string, unknown> {
  return {
    completed: completion.kind,
    ...(completion.migrated ? { migratedAttributes: completion.migrated.attributes, migratedShadow: completion.migrated.shadow } : {}),
    ...(completion.cleanup ? { cleanupDone: completion.cleanup.done, cleanupLeft: completion.cleanup.left } : {}),
  };
}

/**
 * A move's or a rotation's certificate, or a repeated confirmation with clean-up left: completes
 * it. A failure before the registry switched throws (the invocation is retried and finds the same
 * confirmation); after it, the retry finds `repeated` with `cleanup_pending` and finishes.
 */
async function complete(deps: ConfirmDeps, confirmation: Confirmation, confirmed: { thing: string; certificateId: string }, finish: Finish): Promise<{ confirmed: boolean }> {
  const { thing, certificateId } = confirmed;
  let completion: Completion | undefined;
  try {
    completion = await completeConfirmation({ ...deps.clients, registry: deps.registry }, confirmation, { certificateId, region: deps.region });
  } catch (error) {
    finish('error', `${confirmation.kind} not completed`, { thing, certificateId, error: describeError(error) });
    throw error;
  }
  if (!completion) return finish('confirmed', 'repeated', { thing, certificateId });
  const left = completion.cleanup?.left ?? [];
  if (left.length > 0) {
    finish('error', `${completion.kind} completed, clean-up pending`, { thing, certificateId, ...completionFields(completion) });
    throw new CleanupPending(`clean-up of ${thing} left ${left.join(', ')}`);
  }
  return finish('confirmed', `${completion.kind} completed`, { thing, certificateId, ...completionFields(completion) });
}

/**
 * Marks a device provisioned when it confirms with the certificate the hook allowed, and completes
 * a move or a rotation when the device confirms with the certificate the hook allowed for it (in
 * the move's region; for a rotation, in the device's region). Fed by the region's confirmation
 * rule (core/confirmation.ts): a device's first connection with its new certificate publishes once
 * to the rule's Basic Ingest topic, and the rule hands over the connection's client id (the thing,
 * which the device policy holds to the thing name) and principal (the certificate id), never
 * anything from the payload. Locally, the emulated rules engine does the same.
 *
 * Returns `{ confirmed: false }` for events that are not a device's confirmation here (another
 * certificate, another region, a malformed event). Throws when the registry is unavailable, a
 * completion failed or left clean-up undone, so that the asynchronous invocation is retried;
 * should every retry fail, the event goes to the function's failure destination (still safe: the
 * hook keeps refusing other certificates, and `iot-ops cleanup` finishes a clean-up; see
 * README.md, "Confirmation" and "A move, in two phases").
 */
export function createConfirmHandler(deps: ConfirmDeps): (event: unknown) => Promise<{ confirmed: boolean }> {
  return async (event) => {
    const started = performance.now();
    const finish: Finish = (outcome, reason, about = {}) => {
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
    let confirmation: Confirmation;
    try {
      confirmation = await deps.registry.confirmation(thing, certificateId, deps.region);
    } catch (error) {
      finish('error', 'registry error', { thing, certificateId, error: describeError(error) });
      throw error;
    }
    switch (confirmation.kind) {
      case 'provisioned':
        return finish('confirmed', 'confirmed', { thing, certificateId });
      case 'refused':
        return finish('not-confirmed', 'not the certificate the hook allowed here', { thing, certificateId });
      default:
        return complete(deps, confirmation, { thing, certificateId }, finish);
    }
  };
}
