import { storedTarget } from '../endpoint.js';
import { toEventError } from '../events.js';
import type { Flow } from '../flow/context.js';
import { type LifecycleView, lifecycleViewOf, NOTHING_ASKED } from '../lifecycle/shadow.js';
import type { DeviceSession, MqttCredentials } from '../mqtt.js';
import type { ConfirmedState } from '../store.js';

export interface Verified {
  /** The device's own connection, still open: the caller closes it. */
  readonly session: DeviceSession;
  readonly view: LifecycleView;
}

function describeView(view: LifecycleView): Record<string, string> {
  return {
    ...(view.move ? { move: view.move.to } : {}),
    ...(view.rotate ? { rotate: view.rotate.id } : {}),
  };
}

/**
 * Step `verify`: a provisioned device connects with its stored certificate and reads its classic
 * shadow for a move or rotation request. A shadow it cannot read is reported and taken as empty:
 * the connection, which is what verify proves, worked. Nothing is written.
 */
export async function verify(flow: Pick<Flow, 'step' | 'whileThrottled' | 'transport' | 'thingName' | 'report'>, state: ConfirmedState, credentials: MqttCredentials): Promise<Verified> {
  const open = () => flow.transport.openDeviceSession(storedTarget(state), flow.thingName, credentials);
  return flow.step(
    'verify',
    async () => {
      const session = await flow.whileThrottled('verify', state.region, open);
      try {
        return { session, view: lifecycleViewOf(await session.getShadow(flow.thingName)) };
      } catch (error) {
        flow.report({ step: 'verify', status: 'retry', region: state.region, error: toEventError(error), detail: { shadow: 'unreadable; nothing asked is assumed' } });
        return { session, view: NOTHING_ASKED };
      }
    },
    { region: state.region, describe: ({ view }) => ({ detail: describeView(view) }) },
  );
}
