import type { MoveRequestDoc } from '@global-iot/core/lifecycle/shadow-protocol.js';
import { BootstrapRejected, MqttConnectFailed, NoRegionAnswered, StepFailed } from '../errors.js';
import { toEventError } from '../events.js';
import type { Flow } from '../flow/context.js';
import type { DeviceSession } from '../mqtt.js';
import { verify } from '../steps/verify.js';
import type { ConfirmedState, DeviceCredentials, PendingCredentials } from '../store.js';
import { rotationDue } from './due.js';
import { startMove } from './move.js';
import { finishPending, type Started } from './pending.js';
import { startRotation } from './rotate.js';
import { acknowledge, type LifecycleView, needsAcknowledgement } from './shadow.js';

/**
 * A provisioned device's run (README, "After the first boot"): finish a switch a previous run
 * started, verify the current credentials and read the shadow, then move or rotate when the
 * shadow asks, or rotate when the certificate is due (`--rotate-after-days`,
 * `--rotate-before-expiry-days`, `iot-provision rotate`). A move or rotation that does not go
 * through is `deferred`: the device keeps running on what it has and tries again on a later run.
 */

export interface Maintained {
  readonly outcome: 'verified' | 'rotated' | 'moved';
  readonly state: ConfirmedState;
  readonly pending?: { readonly kind: PendingCredentials['kind']; readonly certificateId: string; readonly region: string };
  readonly deferred?: { readonly action: 'rotation' | 'move'; readonly reason: string };
}

export interface StoredConfirmed {
  readonly state: ConfirmedState;
  readonly credentials: DeviceCredentials;
  readonly pending?: DeviceCredentials;
}

type Action = { readonly kind: 'move'; readonly request: MoveRequestDoc } | { readonly kind: 'rotation'; readonly requestId: string; readonly why: string };

function decide(flow: Pick<Flow, 'lifecycle' | 'now'>, stored: StoredConfirmed, view: LifecycleView): Action | undefined {
  if (view.move) return { kind: 'move', request: view.move };
  if (view.rotate) return { kind: 'rotation', requestId: view.rotate.id, why: 'asked in the shadow' };
  if (flow.lifecycle.rotateNow) return { kind: 'rotation', requestId: 'device', why: 'asked on the command line' };
  const due = rotationDue(stored.credentials.certificatePem, flow.now(), flow.lifecycle);
  return due === undefined ? undefined : { kind: 'rotation', requestId: 'device', why: due };
}

/** Why a move or rotation did not go through, in words an operator can act on. */
function deferralReason(error: unknown): string {
  const cause = error instanceof StepFailed ? error.cause : error;
  if (cause instanceof MqttConnectFailed || cause instanceof NoRegionAnswered) return `the new region does not answer: ${cause.message}`;
  if (cause instanceof BootstrapRejected) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

const summary = (pending: PendingCredentials) => ({ kind: pending.kind, certificateId: pending.certificateId, region: pending.region });

async function closeQuietly(session: DeviceSession): Promise<void> {
  await session.close().catch(() => undefined);
}

type Maintaining = Parameters<typeof finishPending>[0] & Parameters<typeof startMove>[0] & Parameters<typeof startRotation>[0] & Pick<Flow, 'lifecycle'>;

/** Starts what `action` asks; a failure is a deferral (or, for `iot-provision rotate`, thrown). */
async function start(flow: Maintaining, state: ConfirmedState, session: DeviceSession, action: Action): Promise<Started | Maintained> {
  flow.report({
    step: action.kind === 'move' ? 'move' : 'rotate',
    status: 'start',
    region: state.region,
    detail: action.kind === 'move' ? { id: action.request.id, to: action.request.to } : { id: action.requestId, why: action.why },
  });
  try {
    if (action.kind === 'rotation') {
      try {
        return await startRotation(flow, state, session, action.requestId);
      } finally {
        await closeQuietly(session);
      }
    }
    // The claim session in the new region needs no connection of the device's own.
    await closeQuietly(session);
    return await startMove(flow, state, action.request);
  } catch (error) {
    if (action.kind === 'rotation' && flow.lifecycle.rotateNow) throw error;
    flow.report({ step: action.kind === 'move' ? 'move' : 'rotate', status: 'retry', region: state.region, error: toEventError(error), detail: { staying: state.region } });
    return { outcome: 'verified', state, deferred: { action: action.kind, reason: deferralReason(error) } };
  }
}

/** From new credentials stored to the switch, or to a later run when the cloud has not confirmed it yet. */
async function carryThrough(flow: Maintaining, started: Started): Promise<Maintained> {
  const { kind } = started.state.pending;
  const done = await finishPending(flow, started.state, started.credentials);
  if (done.switched) return { outcome: kind === 'move' ? 'moved' : 'rotated', state: done.state };
  return { outcome: 'verified', state: done.state, pending: summary(done.state.pending), deferred: { action: kind, reason: done.reason } };
}

export async function maintain(flow: Maintaining, stored: StoredConfirmed): Promise<Maintained> {
  let state = stored.state;
  let waiting: string | undefined;
  if (state.pending !== undefined && stored.pending !== undefined) {
    const done = await carryThrough(flow, { state: { ...state, pending: state.pending }, credentials: stored.pending });
    if (done.outcome !== 'verified') return done;
    state = done.state;
    waiting = done.deferred?.reason;
  }
  const { session, view } = await verify(flow, state, stored.credentials);
  const own = { certificateId: state.certificateId, region: state.region };
  if (needsAcknowledgement(view, own)) await acknowledge(flow, session, own);
  if (state.pending !== undefined) {
    // One change at a time: the new credentials already stored are finished first.
    await closeQuietly(session);
    return { outcome: 'verified', state, pending: summary(state.pending), ...(waiting ? { deferred: { action: state.pending.kind === 'move' ? 'move' : 'rotation', reason: waiting } } : {}) };
  }
  const action = decide(flow, { ...stored, state }, view);
  if (action === undefined) {
    await closeQuietly(session);
    return { outcome: 'verified', state };
  }
  const started = await start(flow, state, session, action);
  return 'outcome' in started ? started : carryThrough(flow, started);
}
