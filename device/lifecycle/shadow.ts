import { type CurrentDoc, currentSchema, type DesiredLifecycle, desiredLifecycleOf, reportedCurrentUpdate, SHADOW_KEY } from '@global-iot/core/lifecycle/shadow-protocol.js';
import { toEventError } from '../events.js';
import type { Flow } from '../flow/context.js';
import type { DeviceSession, ShadowState } from '../mqtt.js';

/**
 * What the device's classic shadow asks of it (README, "How the device learns of a request"):
 * the operator's `move` and `rotate` in `desired.iotProvisioning`, the cloud's `current` once it
 * switched the device, and whether the device already acknowledged that `current` in `reported`.
 */
export interface LifecycleView extends DesiredLifecycle {
  readonly reportedCurrent?: CurrentDoc;
}

export const NOTHING_ASKED: LifecycleView = {};

export function lifecycleViewOf(shadow: ShadowState): LifecycleView {
  const desired = desiredLifecycleOf(shadow.desired);
  const section = shadow.reported[SHADOW_KEY];
  const reported = typeof section === 'object' && section !== null ? currentSchema.safeParse((section as Record<string, unknown>)['current']) : undefined;
  return { ...desired, ...(reported?.success ? { reportedCurrent: reported.data } : {}) };
}

/** True when `current` names this certificate in this region and the device has not said so yet. */
export function needsAcknowledgement(view: LifecycleView, own: CurrentDoc): boolean {
  const { current, reportedCurrent } = view;
  if (current?.certificateId !== own.certificateId || current.region !== own.region) return false;
  return reportedCurrent?.certificateId !== own.certificateId || reportedCurrent.region !== own.region;
}

/**
 * Step `acknowledge`: `reported.iotProvisioning.current`, which also clears the delta. The switch
 * is already final on the device; a failure is reported and the next run acknowledges again.
 */
export async function acknowledge(flow: Pick<Flow, 'step' | 'report' | 'thingName'>, session: DeviceSession, own: CurrentDoc): Promise<void> {
  const reported = (JSON.parse(reportedCurrentUpdate(own)) as { state: { reported: Record<string, unknown> } }).state.reported;
  try {
    await flow.step('acknowledge', () => session.updateReported(flow.thingName, reported), { region: own.region, describe: () => ({ detail: { certificateId: own.certificateId } }) });
  } catch (error) {
    flow.report({ step: 'acknowledge', status: 'retry', region: own.region, error: toEventError(error), detail: { next: 'the next run acknowledges again' } });
  }
}
