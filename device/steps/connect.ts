import { MqttConnectFailed, NoRegionAnswered, StepFailed } from '../errors.js';
import type { Flow } from '../flow/context.js';
import type { IdentitySession, MqttTarget } from '../mqtt.js';
import { type Assignment, bootstrap } from './bootstrap.js';

/** A claim session open in the region the device was (finally) assigned. */
export interface Connected {
  readonly assignment: Assignment;
  readonly session: IdentitySession;
  /** Regions whose endpoint did not answer before one did. */
  readonly regionsSkipped: string[];
}

type Connecting = Pick<Flow, 'step' | 'whileThrottled' | 'transport' | 'identity' | 'claimClientId'>;

/**
 * Step `connect`: MQTT over mutual TLS with the claim, under the claim session's own client id
 * (never the thing name, which is the device's once provisioned), and the provisioning API on
 * the connection.
 */
export function connect(flow: Connecting, target: MqttTarget): Promise<IdentitySession> {
  const open = () => flow.transport.openIdentitySession(target, flow.claimClientId, flow.identity.claim);
  return flow.step('connect', () => flow.whileThrottled('connect', target.region, open), { region: target.region });
}

/**
 * Connects to the assigned region; when its endpoint does not answer, asks the bootstrap again
 * for the next fallback of the first answer (a ticket only works in its own region; the first
 * answer's order of fallbacks is the device's order of preference from here on), until one
 * answers or every fallback has been tried. A throttled CONNECT is no sign of a dead region: it
 * is tried again in place first (see throttle.ts).
 */
export async function connectWithFallback(flow: Connecting & Parameters<typeof bootstrap>[0], first: Assignment): Promise<Connected> {
  const skipped: string[] = [];
  const fallbacks = first.answer.fallbacks;
  let current = first;
  for (;;) {
    try {
      return { assignment: current, session: await connect(flow, current.target), regionsSkipped: skipped };
    } catch (error) {
      if (!(error instanceof StepFailed && error.cause instanceof MqttConnectFailed)) throw error;
      skipped.push(current.target.region);
      const next = fallbacks.find((f) => !skipped.includes(f.region));
      if (next === undefined) {
        throw new StepFailed('connect', new NoRegionAnswered(`no region answered: tried ${skipped.join(', ')}`, { cause: error.cause }));
      }
      current = await bootstrap(flow, { preferredRegion: next.region });
      if (skipped.includes(current.answer.region)) {
        throw new StepFailed(
          'bootstrap',
          new NoRegionAnswered(`the bootstrap keeps the device in ${current.answer.region}, which does not answer (asked for ${next.region})`),
        );
      }
    }
  }
}
